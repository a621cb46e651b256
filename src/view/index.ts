export { DEFAULT_HOST, DEFAULT_PORT, isLoopback, route, startViewer, type Viewer, type ViewerOptions } from "./server.js";
export { listRuns, type RunFilters, type RunListItem, type RunListPage } from "./runs.js";
export { listAnswers, type AnswerFilters, type AnswerListItem, type AnswerListPage, type AnswerOrder } from "./answers.js";
