/** The rule-based dynamics, by name. */
import type { Dynamics } from "../types.js";
import { degroot } from "./degroot.js";
import { deffuant } from "./deffuant.js";
import { hegselmannKrause } from "./hk.js";
import { voter } from "./voter.js";

export { createDeGroot, degroot, trustMatrix, type DeGrootState } from "./degroot.js";
export { deffuant, type DeffuantState } from "./deffuant.js";
export { hegselmannKrause, hkOpinions, hkSortedStep, type HkState } from "./hk.js";
export { voter, type VoterState } from "./voter.js";

/** Every rule-based dynamics by its `name` (degroot, hk, deffuant, voter). */
export const dynamicsByName: Readonly<Record<string, Dynamics<unknown>>> = {
  degroot: degroot as Dynamics<unknown>,
  hk: hegselmannKrause as Dynamics<unknown>,
  deffuant: deffuant as Dynamics<unknown>,
  voter: voter as Dynamics<unknown>,
};
