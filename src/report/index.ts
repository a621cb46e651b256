export { formatEvalResult, formatScores, formatStability, formatTable } from "./table.js";
