/**
 * Model-driven scenarios: agents that ask a model (through a `SimModel`, src/sim/model.ts) or, in
 * hybrid worlds, follow a rule. Each is a `DynamicsFactory`: `AGENT_SCENARIOS[name](params, deps)`
 * validates the parameters (a CivitasError("usage") names the one that is wrong) and returns a
 * `Dynamics` whose `init` and `step` are async.
 *
 * Contract with the runner:
 * - `deps.model`: the simulation's SimModel (`createSimModel`, one per (run, point, seed)); absent
 *   when the scenario names no model, in which case `llm_share` defaults to 0 and a positive one is
 *   an error.
 * - `deps.suite`: the loaded suite of the scenario's `survey` (opinion, conformity), and the params
 *   `question` (survey.question, a question id) and `attribute` (survey.attribute, optional: an
 *   attribute or a list of groups as `--populations` takes them).
 * - All model calls of a step are issued together, then the agents' answers are drawn in agent
 *   order from the run's RNG (`ctx.rng`), so a replay of the record (`replay` in createSimModel)
 *   gives a bit-identical run. A step changes no agent until all its calls have answered, so a
 *   `BudgetExhaustedError` (isBudgetExhausted) thrown by a call leaves the state of the last
 *   complete step: catch it around `simulate`, keep the metrics collected so far, and stop.
 * - Calls are recorded with `step` in the metrics' numbering: 0 for init, s for the s-th step.
 *
 * Common params: `llm_share` in [0, 1] (default 1 with a model, else 0): the share of agents, drawn
 * at random, that ask the model; the others follow the scenario's rule (opinion: the voter model,
 * copying a random neighbour; conformity: conform from `rule_threshold` peers; donor: give in
 * proportion to the recipient's reputation). Each scenario's module comment gives its prompts,
 * update rules and metrics.
 */
import type { DynamicsFactory } from "../types.js";
import { createConformity } from "./conformity.js";
import { createCooperation } from "./cooperation.js";
import { createDebate } from "./debate.js";
import { createDonor } from "./donor.js";
import { createFeed } from "./feed.js";
import { createOpinion } from "./opinion.js";
import { createPressure } from "./pressure.js";

export { createConformity, type ConformityDynamics, type ConformityState } from "./conformity.js";
export {
  applyAction,
  createCooperation,
  parseDecision,
  parseStrategy,
  rankAgents,
  roundPairs,
  ruleAction,
  type CooperationDynamics,
  type CooperationState,
} from "./cooperation.js";
export { assignRooms, boundedConfidence, createDebate, debateMetrics, debatePrompt, discussTail, realRange, type DebateDynamics, type DebateGroup, type DebateState } from "./debate.js";
export { cleanPost, createFeed, feedMetrics, feedParams, initialFollows, type FeedDynamics, type FeedParams, type FeedState } from "./feed.js";
export { createDonor, DONOR_STRATEGIES, donorPrompt, parseShare, type DonorDynamics, type DonorState } from "./donor.js";
export {
  createPressure,
  PEER_REASONS,
  peerComposition,
  peerText,
  switchShares,
  type PressureDynamics,
  type PressureMode,
  type PressureState,
} from "./pressure.js";
export {
  assignGroups,
  bimodalityCoefficient,
  createOpinion,
  opinionMetrics,
  peersSentence,
  polarization,
  surveySetup,
  type AgentGroup,
  type OpinionDynamics,
  type OpinionState,
  type SurveySetup,
} from "./opinion.js";

/** The model-driven scenarios by name: opinion, conformity, donor, cooperation, pressure, debate, feed. */
export const AGENT_SCENARIOS: Readonly<Record<string, DynamicsFactory>> = {
  opinion: createOpinion as DynamicsFactory,
  conformity: createConformity as DynamicsFactory,
  donor: createDonor as DynamicsFactory,
  cooperation: createCooperation as DynamicsFactory,
  pressure: createPressure as DynamicsFactory,
  debate: createDebate as DynamicsFactory,
  feed: createFeed as DynamicsFactory,
};
