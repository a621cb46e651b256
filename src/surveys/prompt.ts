/**
 * How a question is shown to a model. A prompt is a template applied to the question, its
 * options in some order with some labels, and an optional persona. Whatever the presentation,
 * `order` maps every shown option back to its survey position, so answers are always stored and
 * scored in survey order.
 */
import { CivitasError } from "../errors.js";
import { seededRng } from "../metrics/index.js";
import type { Question } from "./types.js";

export type OptionOrder =
  | { readonly kind: "survey" }
  | { readonly kind: "reversed" }
  /** By option text, in code-point order (as Python's sorted() and JSON dumps with sorted keys). */
  | { readonly kind: "alphabetical" }
  | { readonly kind: "shuffle"; readonly seed: number };
export type LabelStyle = "letters" | "numbers";

/** One presentation of a question. */
export interface Variant {
  /** Canonical name: "standard", or e.g. "order=reversed,labels=numbers". */
  readonly id: string;
  readonly template: string;
  readonly order: OptionOrder;
  readonly labels: LabelStyle;
}

/** A steering prefix describing who should answer; `none` is no prefix. */
export interface Persona {
  readonly id: string;
  readonly text: string;
}

export const NO_PERSONA: Persona = { id: "none", text: "" };

export interface RenderedPrompt {
  readonly text: string;
  /** Labels in the order shown. */
  readonly labels: string[];
  /** order[k] = survey index of the k-th option shown. */
  readonly order: number[];
}

type Template = (question: string, lines: readonly { label: string; option: string }[]) => string;

/**
 * Prompt templates: the question block, without its ending. `opinionqa` is the prompt of
 * Santurkar et al. (2023), also used by GlobalOpinionQA and Meister et al.: the question, one
 * lettered option per line; the ending ("Answer:") depends on the elicitation method.
 */
export const TEMPLATES: Readonly<Record<string, Template>> = {
  opinionqa: (question, lines) => `Question: ${question}\n${lines.map((l) => `${l.label}. ${l.option}`).join("\n")}`,
  // MoCa's A/B prompt (Nie et al. 2023, exp1_moral_prompt_2.jinja): the labels named in the question, a blank line before the answer.
  moca: (question, lines) =>
    `Question: ${question} Please choose ${lines.map((l) => l.label).join(" or ")}.\n${lines.map((l) => `${l.label}. ${l.option}`).join("\n")}\n`,
};

/** How the model is asked to answer (Meister et al. 2024). */
export type PromptMethod = "logprobs" | "sample" | "verbalize";

/** The prompt's last line(s) per method: the answer label comes next, or a stated distribution. */
function ending(method: PromptMethod, labels: readonly string[], steered: boolean): string {
  if (method !== "verbalize") return "Answer:";
  const who = steered ? "people like the one described" : "people";
  return (
    `Do not answer yourself: estimate how ${who} would answer. Give the share of them who would choose each option ` +
    `as a JSON object whose keys are the option labels (${labels.join(", ")}) and whose values are the shares, summing to 1.\nJSON:`
  );
}

const DEFAULTS = { template: "opinionqa", order: { kind: "survey" } as OptionOrder, labels: "letters" as LabelStyle };

function orderName(o: OptionOrder): string {
  return o.kind === "shuffle" ? `shuffle${o.seed}` : o.kind;
}

/** The canonical id of a variant: "standard" for the defaults, else its non-default settings. */
export function variantId(v: Omit<Variant, "id">): string {
  const parts: string[] = [];
  if (v.template !== DEFAULTS.template) parts.push(`template=${v.template}`);
  if (orderName(v.order) !== orderName(DEFAULTS.order)) parts.push(`order=${orderName(v.order)}`);
  if (v.labels !== DEFAULTS.labels) parts.push(`labels=${v.labels}`);
  return parts.length === 0 ? "standard" : parts.join(",");
}

function makeVariant(v: Omit<Variant, "id">): Variant {
  return { ...v, id: variantId(v) };
}

export const STANDARD_VARIANT: Variant = makeVariant(DEFAULTS);

/**
 * Parses a variant: "standard" or a comma list of key=value with keys template (a name in
 * TEMPLATES), order (survey | reversed | alphabetical | shuffle<seed>) and labels (letters | numbers).
 */
export function parseVariant(spec: string, defaultTemplate: string = DEFAULTS.template): Variant {
  const s = spec.trim();
  if ((s === "" || s === "standard") && defaultTemplate === DEFAULTS.template) return STANDARD_VARIANT;
  let template = defaultTemplate;
  let order: OptionOrder = DEFAULTS.order;
  let labels: LabelStyle = DEFAULTS.labels;
  for (const part of s === "standard" ? [] : s.split(",").filter((x) => x.trim() !== "")) {
    const [key, value, extra] = part.split("=").map((x) => x.trim());
    const bad = (why: string) =>
      new CivitasError("usage", `bad variant "${spec}": ${why}`, {
        hint: "write e.g. standard, or order=reversed,labels=numbers (keys: template, order = survey|reversed|alphabetical|shuffle<seed>, labels = letters|numbers)",
      });
    if (!key || value === undefined || extra !== undefined) throw bad(`"${part}" is not key=value`);
    if (key === "template") {
      if (!(value in TEMPLATES)) throw bad(`unknown template "${value}" (known: ${Object.keys(TEMPLATES).join(", ")})`);
      template = value;
    } else if (key === "order") {
      const m = /^shuffle(\d+)$/u.exec(value);
      if (value === "survey" || value === "reversed" || value === "alphabetical") order = { kind: value };
      else if (m) order = { kind: "shuffle", seed: Number(m[1]) };
      else throw bad(`unknown order "${value}"`);
    } else if (key === "labels") {
      if (value !== "letters" && value !== "numbers") throw bad(`unknown label style "${value}"`);
      labels = value;
    } else {
      throw bad(`unknown key "${key}"`);
    }
  }
  return makeVariant({ template, order, labels });
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
): RenderedPrompt {
  const template = TEMPLATES[variant.template];
  if (!template) throw new CivitasError("usage", `unknown template "${variant.template}"`);
  const order = presentationOrder(q.options, variant.order);
  const labels = order.map((_, k) => label(variant.labels, k));
  const block = template(
    q.text,
    order.map((i, k) => ({ label: labels[k]!, option: q.options[i]! })),
  );
  const body = `${block}\n${ending(method, labels, persona.text !== "")}`;
  const text = persona.text ? `${persona.text.trim()}\n\n${body}` : body;
  return { text, labels, order };
}

/** Maps values given per shown option back to survey order. */
export function toSurveyOrder(values: readonly number[], order: readonly number[]): number[] {
  const out = new Array<number>(order.length).fill(0);
  order.forEach((surveyIndex, k) => {
    out[surveyIndex] = values[k]!;
  });
  return out;
}
