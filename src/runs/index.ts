export { requestKey, runConfig, runEval, runId, type EvalEvents, type EvalPlan, type EvalProgress, type EvalResult } from "./engine.js";
export { scoreRun, scoredDistribution, type Interval, type PopulationResult, type ScoreSummary } from "./score.js";
