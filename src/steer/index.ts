export { limitQuestions, splitQuestions, stratumOf, SPLIT_KINDS, type Split, type SplitKind } from "./split.js";
export { cosine, mostSimilar, tfIdf, words } from "./similarity.js";
export {
  applyOffsets,
  CALIBRATE,
  CALIBRATE_EPSILON,
  CALIBRATE_GRID,
  calibrationOffsets,
  DEFAULT_STEER_METHODS,
  exampleLine,
  FEWSHOT,
  FEWSHOT_GRID,
  fewshotText,
  LINEAR,
  LINEAR_FLOOR,
  LINEAR_GRID,
  linearAlign,
  parseSteerMethods,
  PERSONA,
  REALIGN,
  REALIGN_GRID,
  steerMethods,
  viewIndices,
  type Ask,
  type AskedPrompt,
  type PerVariant,
  type RealignSides,
  type SteerElicitation,
  type Steered,
  type SteeredAnswers,
  type SteerContext,
  type Steerer,
  type SteerMethod,
  type StoredAnswers,
} from "./methods.js";
export { evaluate, pairedGain, type EvaluateInput, type Evaluation, type MethodAnswers } from "./evaluate.js";
export { alignmentOn, runSteer, tuneMethod, type SteerEvents, type SteerPlan, type Tuned } from "./run.js";
export { parseSteerConfigs } from "./config.js";
// The two-sequence decoding loop, for the simulation's steered agents (src/sim/steer.ts).
export { asLlamaClient, linearWeight, openLinearDecoder, steeredClient, type MixtureDecoder } from "./decode.js";
