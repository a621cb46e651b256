/** Past one machine: a run's model calls answered by `civitas worker` processes through BullMQ on Redis (docs/scale.md). */
export { queueExecutor, type QueueExecutorOptions } from "./executor.js";
export { connectionOf, queueName, shownUrl } from "./names.js";
export { serveQueue, type QueueWorker, type WorkerOptions } from "./worker.js";
export {
  serveSimulations,
  simulationJobs,
  type SimJobData,
  type SimulationJobPayload,
  type SimulationJobsOptions,
  type SimulationJobsRun,
  type SimulationJobsRunner,
  type SimulationWorker,
  type SimulationWorkerOptions,
} from "./simulations.js";
export { simulationQueueName } from "./names.js";
