/**
 * Custom surveys: the field (column) names of each form, and the layouts the messages describe.
 */

export const QUESTION_FIELDS = ["question_id", "question", "options", "ordinals", "refusal", "correct", "dataset"] as const;
export const AGG_CSV_FIELDS = ["population", "option", "count", "share"] as const;
export const AGG_JSON_FIELDS = ["population", "counts", "shares"] as const;
const IND_FIELDS = ["respondent_id", "answer", "weight"] as const;
export const AGG_MARKERS = new Set<string>([...AGG_CSV_FIELDS, ...AGG_JSON_FIELDS]);
export const IND_MARKERS = new Set<string>(IND_FIELDS);
export const KNOWN = new Set<string>([...QUESTION_FIELDS, ...AGG_MARKERS, ...IND_MARKERS]);

/** Attribute names (and bare population names) the command line can take: see splitPopulationList. */
export const NAME_RE = /^[A-Za-z][A-Za-z0-9_]*$/u;

export const LAYOUT_CSV =
  "aggregated form (one row per question, population and option): question_id, question, options, " +
  "ordinals (optional), refusal (optional), correct (optional), dataset (optional), population, option, " +
  "and count or share; individual form (one row per respondent and question): respondent_id, question_id, " +
  "answer, weight (optional), the same question columns, and one column per demographic attribute " +
  "(e.g. region, age_group)";
export const LAYOUT_JSON =
  'aggregated form (one object per question and population): {"question_id", "question", "options": [...], ' +
  '"ordinals": [...]?, "refusal": [...]?, "correct"?, "dataset"?, "population": "country=Korea", ' +
  '"counts": {"option": 12, ...} or "shares": {"option": 0.4, ...}}; individual form (one object per ' +
  'respondent and question): {"respondent_id", "question_id", "answer", "weight"?, the same question fields, ' +
  'and one field per demographic attribute, e.g. "region": "North"}';
export const DOCS = "see docs/custom-surveys.md";
