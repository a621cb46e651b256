export * from "./types.js";
export { loadOpinionQA, OPINIONQA_ATTRIBUTES, OPINIONQA_WAVES, type LoadOpinionQAOptions } from "./opinionqa.js";
export { resolvePopulations, splitPopulationList, suiteAttributes } from "./populations.js";
export { NO_PERSONA, parseVariant, renderPrompt, STANDARD_VARIANT, TEMPLATES, toSurveyOrder, variantId, type Persona, type RenderedPrompt, type Variant } from "./prompt.js";
export { findSuite, SUITES, type SuiteInfo, type SuiteLoadOptions } from "./suites.js";
export { defaultCacheDir, ensureCached } from "./download.js";
export { parsePyList } from "./pyliteral.js";
