/**
 * How a question is shown to a model. A prompt is a template applied to the question, its
 * options in some order with some labels, an answer format, and an optional persona. Whatever
 * the presentation, `order` maps every shown option back to its survey position, so answers are
 * always stored and scored in survey order.
 *
 * Presentation variants ("Randomness, Not Representation", 2025) vary four axes: option order
 * (survey, reversed, alphabetical, seeded shuffles), label style (letters, numbers), answer format
 * (the label, or the option's text) and template (paraphrases of the instruction). Every prompt
 * has a `prefix` (persona and the template's stem: instruction and question text) that the
 * variants of one question share, so a backend can evaluate it once.
 */
import { CivitasError } from "../errors.js";
import { seededRng } from "../metrics/index.js";
import { RNR_INSTRUCTIONS, RNR_PROMPT_SUFFIXES } from "./rnr.js";
import type { Question } from "./types.js";

export type OptionOrder =
  | { readonly kind: "survey" }
  | { readonly kind: "reversed" }
  /** By option text, in code-point order (as Python's sorted() and JSON dumps with sorted keys). */
  | { readonly kind: "alphabetical" }
  | { readonly kind: "shuffle"; readonly seed: number }
  /** Survey order rotated left by `by` places: rotate1 shows the second option first and the first last. */
  | { readonly kind: "rotate"; readonly by: number };
export type LabelStyle = "letters" | "numbers";
/** What the model answers with: the option's label ("B"), or its text ("Somewhat safe"). */
export type AnswerFormat = "label" | "text";

/** One presentation of a question. */
export interface Variant {
  /** Canonical name: "standard", or e.g. "order=reversed,labels=numbers". */
  readonly id: string;
  readonly template: string;
  readonly order: OptionOrder;
  readonly labels: LabelStyle;
  readonly answer: AnswerFormat;
}

/** A steering prefix describing who should answer; `none` is no prefix. */
export interface Persona {
  readonly id: string;
  readonly text: string;
}

export const NO_PERSONA: Persona = { id: "none", text: "" };

/** Where a steering persona goes: the system turn, or the start of the user's (the default, as the papers did). */
export type PersonaIn = "system" | "user";

/** The turns of a prompt (a system turn is optional), before a model's chat template is applied. */
export interface PromptTurns {
  /** The system turn: `--system`, then the persona when it goes there; null for none. */
  readonly system: string | null;
  /** The user's turn: the persona (when it goes there), the question, the options, the ending. */
  readonly user: string;
  /** The start of `user` shared by every variant of the question with the same template and persona. */
  readonly userPrefix: string;
}

/** How the turns are made: `--system` and `--persona-in`. */
export interface TurnOptions {
  readonly system?: string;
  readonly personaIn?: PersonaIn;
}

export interface RenderedPrompt {
  /**
   * The prompt as plain text: the system turn, a blank line, the user's turn (the user's alone
   * without a system turn). A model with a chat template is asked its rendering of `turns` instead
   * (models/chat.ts, formatPrompt).
   */
  readonly text: string;
  /** The start of `text` shared by every variant of the question with the same template and persona. */
  readonly prefix: string;
  readonly turns: PromptTurns;
  /** Labels in the order shown. */
  readonly labels: string[];
  /** Option texts in the order shown. */
  readonly shown: string[];
  /** order[k] = survey index of the k-th option shown. */
  readonly order: number[];
  readonly answer: AnswerFormat;
}

interface TemplateInput {
  readonly question: string;
  readonly lines: readonly { readonly label: string; readonly option: string }[];
  readonly answer: AnswerFormat;
}

/** A template's parts: `stem` (instruction, question) is shared by the variants of a question; `options` and `ending` are not. */
interface TemplateParts {
  readonly stem: string;
  readonly options: string;
  readonly ending: string;
}

type Template = (t: TemplateInput) => TemplateParts;

const optionLines = (lines: TemplateInput["lines"]): string => lines.map((l) => `${l.label}. ${l.option}\n`).join("");

/** "Randomness, Not Representation" (2025): the instruction and the closing line per answer format, as in its data and code. */
const RNR_TEXT: Readonly<Record<AnswerFormat, { instruction: string; suffix: string }>> = {
  label: { instruction: RNR_INSTRUCTIONS.identifier_only, suffix: RNR_PROMPT_SUFFIXES.identifier_only },
  text: { instruction: RNR_INSTRUCTIONS.option_text, suffix: RNR_PROMPT_SUFFIXES.option_text },
};

/**
 * Prompt templates. `opinionqa` is the prompt of Santurkar et al. (2023), also used by
 * GlobalOpinionQA and Meister et al.: the question, one labelled option per line, "Answer:".
 * `survey`, `choose` and `respond` are paraphrases of its instruction, for stability checks.
 */
export const TEMPLATES: Readonly<Record<string, Template>> = {
  opinionqa: ({ question, lines }) => ({ stem: `Question: ${question}\n`, options: optionLines(lines), ending: "Answer:" }),
  survey: ({ question, lines }) => ({
    stem: `Here is a question from a public opinion survey.\n\n${question}\n\n`,
    options: optionLines(lines),
    ending: "\nYour answer:",
  }),
  choose: ({ question, lines }) => ({
    stem: `Please answer the following question by choosing one of the options.\n\nQuestion: ${question}\nOptions:\n`,
    options: optionLines(lines),
    ending: "Answer:",
  }),
  respond: ({ question, lines }) => ({
    stem: `${question}\n\nWhich of the following is closest to your view?\n`,
    options: optionLines(lines),
    ending: "Response:",
  }),
  // MoCa's A/B prompt (Nie et al. 2023, exp1_moral_prompt_2.jinja): the labels named in the question, a blank line before the answer.
  moca: ({ question, lines }) => ({
    stem: `Question: ${question} Please choose ${lines.map((l) => l.label).join(" or ")}.\n`,
    options: optionLines(lines),
    ending: "\nAnswer:",
  }),
  // SubPOP (Suh et al. 2025, subpop/utils/survey_utils.py generate_mcq with add_answer_forcing=True):
  // "Question: <body>\nA. x\nB. y\nAnswer as a choice between A.,B.\n\nAnswer:".
  subpop: ({ question, lines }) => ({
    stem: `Question: ${question.trim()}\n`,
    options: lines.map((l) => `${l.label}. ${l.option.trim()}\n`).join(""),
    ending: `Answer as a choice between ${lines.map((l) => `${l.label}.`).join(",")}\n\nAnswer:`,
  }),
  // PAPI (Zhu et al. 2024, PAlign main.py TEMPLATE, the item text lower-cased as generateAnswer does;
  // it keeps its full stop, hence "You worry about things.."); "Answer:" added so that the next token is the label.
  papi: ({ question, lines }) => ({
    stem: `Given a statement of you: "You ${question.toLowerCase()}."\nPlease choose from the following options to identify how accurately this statement describes you.\nOptions:\n`,
    options: lines.map((l) => `(${l.label}). ${l.option}\n`).join(""),
    ending: "Answer:",
  }),
  // "Randomness, Not Representation" (run_explicit_stability.py, construct_prompt): the instruction for
  // the answer format, the question, the labelled options and the closing request, as one user
  // message; civitas adds "Answer:" so that a completion model's next token is the answer.
  rnr: ({ question, lines, answer }) => ({
    stem: `${RNR_TEXT[answer].instruction}\n\n${question}\n\n`,
    options: optionLines(lines),
    ending: `${RNR_TEXT[answer].suffix}\nAnswer:`,
  }),
};

/** How the model is asked to answer (Meister et al. 2024). */
export type PromptMethod = "logprobs" | "sample" | "verbalize" | "sequence";

/**
 * The ending of a sequence prompt: N answers in a row. The wording is Meister et al.'s
 * (nicolemeister/benchmarking-distributional-alignment, utils.py get_prompt_opinionqa, lines 858
 * (no persona) and 875 (a group)), with N for their 30 and without their five worked examples
 * (inputs/<dataset>/sequence/prompt_task*.txt), which civitas's other methods do not show either.
 */
function sequenceEnding(n: number, steered: boolean): string {
  const who = steered ? " from a group of people like the one described" : "";
  return (
    `Please simulate ${n} samples${who} for the question asked. Please only respond with ${n} multiple choice answers, ` +
    `no extra spaces, characters, quotes or text. Please only produce ${n} characters. Answers with more than ${n} characters will not be accepted.\nAnswer:`
  );
}

/** The ending of a verbalize prompt: a stated distribution instead of an answer. */
function verbalizeEnding(labels: readonly string[], steered: boolean): string {
  const who = steered ? "people like the one described" : "people";
  return (
    `Do not answer yourself: estimate how ${who} would answer. Give the share of them who would choose each option ` +
    `as a JSON object whose keys are the option labels (${labels.join(", ")}) and whose values are the shares, summing to 1.\nJSON:`
  );
}

const DEFAULTS = { template: "opinionqa", order: { kind: "survey" } as OptionOrder, labels: "letters" as LabelStyle, answer: "label" as AnswerFormat };

function orderName(o: OptionOrder): string {
  return o.kind === "shuffle" ? `shuffle${o.seed}` : o.kind === "rotate" ? `rotate${o.by}` : o.kind;
}

/** The canonical id of a variant: "standard" for the defaults, else its non-default settings. */
export function variantId(v: Omit<Variant, "id">): string {
  const parts: string[] = [];
  if (v.template !== DEFAULTS.template) parts.push(`template=${v.template}`);
  if (orderName(v.order) !== orderName(DEFAULTS.order)) parts.push(`order=${orderName(v.order)}`);
  if (v.labels !== DEFAULTS.labels) parts.push(`labels=${v.labels}`);
  if (v.answer !== DEFAULTS.answer) parts.push(`answer=${v.answer}`);
  return parts.length === 0 ? "standard" : parts.join(",");
}

function makeVariant(v: Omit<Variant, "id">): Variant {
  return { ...v, id: variantId(v) };
}

export const STANDARD_VARIANT: Variant = makeVariant(DEFAULTS);

/**
 * Named variant sets (presets), with the suite's template:
 * - standard: one variant (the default);
 * - rnr8: "Randomness, Not Representation"'s design, {numbers, letters} x {ascending, descending}
 *   x {identifier, text}, in that paper's order;
 * - robust: rnr8, plus the template paraphrases and two seeded shuffles.
 * Every list of presets (help, hints, errors) is derived from this one.
 */
const VARIANT_PRESETS = {
  standard: (template: string): Variant[] => [parseVariant("standard", template)],
  rnr8,
  robust: (template: string): Variant[] => [
    ...rnr8(template),
    ...["survey", "choose", "respond"].filter((t) => t !== template).map((t) => parseVariant(`template=${t}`, template)),
    parseVariant("order=shuffle1", template),
    parseVariant("order=shuffle2", template),
  ],
} as const satisfies Record<string, (template: string) => Variant[]>;

export const VARIANT_SETS = Object.keys(VARIANT_PRESETS) as (keyof typeof VARIANT_PRESETS)[];

function rnr8(template: string): Variant[] {
  const out: Variant[] = [];
  for (const labels of ["numbers", "letters"] as const) {
    for (const order of [{ kind: "survey" }, { kind: "reversed" }] as const) {
      for (const answer of ["label", "text"] as const) out.push(makeVariant({ template, order, labels, answer }));
    }
  }
  return out;
}

const VARIANT_HINT =
  `write a preset (${VARIANT_SETS.join(", ")}), or variants separated by ";" each a comma list of key=value such as order=reversed,labels=numbers (keys: template = ` +
  `${Object.keys(TEMPLATES).join("|")}, order = survey|reversed|alphabetical|shuffle<seed>|rotate<k>, labels = letters|numbers, answer = label|text)`;

/**
 * Parses one variant: "standard" or a comma list of key=value with keys template (a name in
 * TEMPLATES), order (survey | reversed | alphabetical | shuffle<seed> | rotate<k>), labels (letters | numbers)
 * and answer (label | text). Unset keys take the defaults, the template the suite's.
 */
export function parseVariant(spec: string, defaultTemplate: string = DEFAULTS.template): Variant {
  const s = spec.trim();
  let template = defaultTemplate;
  let order: OptionOrder = DEFAULTS.order;
  let labels: LabelStyle = DEFAULTS.labels;
  let answer: AnswerFormat = DEFAULTS.answer;
  for (const part of s === "standard" ? [] : s.split(",").filter((x) => x.trim() !== "")) {
    const [key, value, extra] = part.split("=").map((x) => x.trim());
    const bad = (why: string) => new CivitasError("usage", `bad variant "${spec}": ${why}`, { hint: VARIANT_HINT });
    if (!key || value === undefined || extra !== undefined) {
      if ((VARIANT_SETS as readonly string[]).includes(part.trim())) throw bad(`the preset "${part.trim()}" stands alone (--variants ${part.trim()}), not in a list`);
      throw bad(value === undefined && !part.includes("=") ? `"${part}" is neither a preset (${VARIANT_SETS.join(", ")}) nor key=value` : `"${part}" is not key=value`);
    }
    if (key === "template") {
      if (!(value in TEMPLATES)) throw bad(`unknown template "${value}" (known: ${Object.keys(TEMPLATES).join(", ")})`);
      template = value;
    } else if (key === "order") {
      const m = /^shuffle(\d+)$/u.exec(value);
      const r = /^rotate(\d+)$/u.exec(value);
      if (value === "survey" || value === "reversed" || value === "alphabetical") order = { kind: value };
      else if (m) order = { kind: "shuffle", seed: Number(m[1]) };
      else if (r) order = { kind: "rotate", by: Number(r[1]) };
      else throw bad(`unknown order "${value}"`);
    } else if (key === "labels") {
      if (value !== "letters" && value !== "numbers") throw bad(`unknown label style "${value}"`);
      labels = value;
    } else if (key === "answer") {
      if (value !== "label" && value !== "text") throw bad(`unknown answer format "${value}"`);
      answer = value;
    } else {
      throw bad(`unknown key "${key}"`);
    }
  }
  return makeVariant({ template, order, labels, answer });
}

/**
 * `--variants`: a set name, or variants separated by ";" (e.g. "standard;order=reversed;labels=numbers").
 * Duplicates are dropped, order kept.
 */
export function parseVariants(spec: string, defaultTemplate: string = DEFAULTS.template): Variant[] {
  const s = spec.trim();
  const preset = (VARIANT_PRESETS as Readonly<Record<string, (template: string) => Variant[]>>)[s === "" ? "standard" : s];
  const list: Variant[] = preset ? preset(defaultTemplate) : s.split(";").filter((x) => x.trim() !== "").map((x) => parseVariant(x, defaultTemplate));
  const seen = new Set<string>();
  return list.filter((v) => (seen.has(v.id) ? false : (seen.add(v.id), true)));
}

function label(style: LabelStyle, k: number): string {
  if (style === "numbers") return String(k + 1);
  if (k >= 26) throw new CivitasError("input", `a question has more than 26 options; use labels=numbers`);
  return String.fromCharCode(65 + k);
}

function presentationOrder(options: readonly string[], order: OptionOrder): number[] {
  const n = options.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  if (order.kind === "reversed") return idx.reverse();
  if (order.kind === "rotate") return idx.map((i) => (i + order.by) % n);
  if (order.kind === "alphabetical") return idx.sort((a, b) => (options[a]! < options[b]! ? -1 : options[a]! > options[b]! ? 1 : a - b));
  if (order.kind === "shuffle") {
    const rng = seededRng(order.seed);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
  }
  return idx;
}

export function renderPrompt(
  q: Question,
  variant: Variant = STANDARD_VARIANT,
  persona: Persona = NO_PERSONA,
  method: PromptMethod = "logprobs",
  options: TurnOptions & { /** N of the sequence method: the answers it asks for (default 30, as Meister et al.). */ readonly answers?: number } = {},
): RenderedPrompt {
  const template = TEMPLATES[variant.template];
  if (!template) throw new CivitasError("usage", `unknown template "${variant.template}"`);
  const order = presentationOrder(q.options, variant.order);
  const labels = order.map((_, k) => label(variant.labels, k));
  const shown = order.map((i) => q.options[i]!);
  const parts = template({ question: q.text, lines: order.map((i, k) => ({ label: labels[k]!, option: q.options[i]! })), answer: variant.answer });
  const personaText = persona.text.trim();
  const personaInSystem = options.personaIn === "system";
  const systemParts = [options.system?.trim() ?? "", personaInSystem ? personaText : ""].filter((t) => t !== "");
  const system = systemParts.length === 0 ? null : systemParts.join("\n\n");
  const userPrefix = (!personaInSystem && personaText !== "" ? `${personaText}\n\n` : "") + parts.stem;
  const ending =
    method === "verbalize" ? verbalizeEnding(labels, persona.text !== "") : method === "sequence" ? sequenceEnding(options.answers ?? 30, persona.text !== "") : parts.ending;
  const user = `${userPrefix}${parts.options}${ending}`;
  // The plain text of the turns (models/chat.ts, plainText, writes the same).
  const head = system === null ? "" : `${system}\n\n`;
  return { text: head + user, prefix: head + userPrefix, turns: { system, user, userPrefix }, labels, shown, order, answer: variant.answer };
}

/** Maps values given per shown option back to survey order. */
export function toSurveyOrder(values: readonly number[], order: readonly number[]): number[] {
  const out = new Array<number>(order.length).fill(0);
  order.forEach((surveyIndex, k) => {
    out[surveyIndex] = values[k]!;
  });
  return out;
}
