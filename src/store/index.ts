export { DEFAULT_STORE, Store, type AnswerRow, type AnswerStatus, type Method, type RequestRow, type RunRow, type RunStatus, type ScoreRow } from "./store.js";
export { fileKind, isDuckDBFile, type FileKind } from "./file-kind.js";
