export {
  DEFAULT_STORE,
  DEFAULT_WAIT_MS,
  HEARTBEAT_MS,
  STALE_MS,
  Store,
  type AnswerRow,
  type AnswerStatus,
  type CacheModelRow,
  type PruneFilter,
  type PruneResult,
  type Batch,
  type InvocationRow,
  type Method,
  type OpenOptions,
  type RequestRow,
  type RunRow,
  type RunStatus,
  type ScoreRow,
} from "./store.js";
export { fileKind, isDuckDBFile, type FileKind } from "./file-kind.js";
export { BatchWriter, type BatchWriterOptions } from "./batch.js";
export { isStoreBusy, isStoreDamaged } from "./handle.js";
export {
  ANSWER_ORDERS,
  furthestScores,
  listAnswersPage,
  listRunsPage,
  recentRuns,
  runFilterChoices,
  type AnswerFilters,
  type AnswerListItem,
  type AnswerListPage,
  type AnswerOrder,
  type ListPage,
  type RunFilters,
  type RunListItem,
} from "./pages.js";
export { countOf, exportSimCalls, exportSimMetrics, type ExportFormat, type SimExportPoints } from "./sim-export.js";
