export { dryRun, type DryRun } from "./dryrun.js";
export { checkSupport, requestKey, runConfig, runEval, runId, type CachePolicy, type EvalEvents, type EvalPlan, type EvalProgress, type EvalResult } from "./engine.js";
export {
  inProcessExecutor,
  type CompletionRequest,
  type ElicitRequest,
  type Executor,
  type ExecutorEvents,
  type ModelRequest,
  type RequestHooks,
} from "./stages/execute.js";
export {
  DEFAULT_SAMPLES,
  elicit,
  findMethod,
  METHODS,
  methodParams,
  methods,
  parseMethods,
  verbalizeSchema,
  type Elicited,
  type ElicitationMethod,
  type ElicitPrompt,
  type MethodSettings,
  type RequestParams,
} from "./methods.js";
export { parseSequence, sequence, sequenceSchema, type ParsedSequence } from "./sequence.js";
export {
  findProtocol,
  isProtocolFile,
  loadProtocolFile,
  parseProtocol,
  PROTOCOLS,
  protocols,
  resolveConventions,
  resolveProtocol,
  SUH_EXCLUDED,
  type Conventions,
  type Protocol,
} from "./protocols.js";
export { runComponents, type RunComponents } from "./components.js";
export { scoreAnswers, type EvalScores } from "./result.js";
export {
  distanceTable,
  humanView,
  knowledgeGap,
  knowledgeScores,
  modelView,
  scoredDistribution,
  steerability,
  summarize,
  type AlignmentSummary,
  type DistanceTable,
  type Interval,
  type ModelDistributions,
  type PopulationResult,
} from "./score.js";
export { parsePredictions, readPredictions, scorePredictions, type Predictions } from "./predictions.js";
export { stabilityReport, stabilityVerdict, type ConclusionLike, type StabilityReport } from "./stability.js";
export { scorableBy, selectQuestions, SKIPPED_REASON, type QuestionSelection } from "./questions.js";
