export { formatEvalResult, formatTable } from "./table.js";
