export { formatEvalResult, formatScores, formatTable } from "./table.js";
