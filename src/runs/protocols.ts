/**
 * Protocols: named presets of a paper's scoring conventions, so that its published numbers can be
 * reproduced with `--protocol`. Without one, civitas uses the suite's default metric, drops
 * refusals and pools questions across datasets. Sources and details: docs/protocols.md.
 *
 * A protocol is data: the built-ins below, or a YAML or JSON file a user writes
 * (`--protocol ./my-protocol.yaml`), validated here, registered under the name it gives, and
 * recorded in a run like a built-in.
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { readText } from "../files.js";
import { issueLines, parseYamlLines } from "../yaml-lines.js";
import { findMetric, metrics, type MetricName } from "../metrics/index.js";
import { NO_ARGS, Registry, type Component } from "../registry.js";
import type { Suite } from "../surveys/index.js";

export interface Conventions {
  readonly metric: MetricName;
  /**
   * drop: refusal and other non-substantive options are removed and the rest renormalised
   * (Santurkar et al. 2023); keep: they are scored as ordinary options (Meister et al. 2024).
   */
  readonly refusals: "drop" | "keep";
  /** How a multi-dataset suite's overall number combines its datasets. */
  readonly datasets: "pooled" | "equal";
  readonly resamples: number;
  /** The order in which options are shown to the model (eval only). */
  readonly optionOrder: "survey" | "alphabetical";
  /**
   * How the logprobs method reads label probabilities (eval only). Absent or "forms": civitas's
   * default, every form of a label ("A", " A", "A.", "(A", "a") over the whole next-token
   * distribution. "top-k": as Santurkar et al. 2023's code, from the k most likely next tokens,
   * " A" and "A" only, a label missing from them given the paper's miss value (topKLabelMass).
   */
  readonly labelReading?: LabelReading;
  /**
   * What the overall number (of a dataset) averages: "populations" (absent: the default), each
   * population's mean over its questions, then the mean over populations; "pairs", the mean over
   * every scored (question, population) pair (Meister et al. 2024: eval_utils.py compute_three
   * flattens each dataset's per-pair distances before it averages them).
   */
  readonly average?: "populations" | "pairs";
  /** Question ids a protocol leaves out of what it asks and scores (eval and score). */
  readonly excludeQuestions?: readonly string[];
}

/** How label probabilities are read from the next-token distribution (Conventions.labelReading). */
export type LabelReading =
  | { readonly kind: "forms" }
  /** Santurkar et al. 2023: the larger of " X" and "X" among the top k, a missing label the paper's miss value. */
  | { readonly kind: "top-k"; readonly k: number }
  /** Suh et al. 2025 (SubPOP): "X" and " X" among the top k added up, a missing token 0. */
  | { readonly kind: "top-k-sum"; readonly k: number };

/** k of SubPOP's runs: vLLM's `SamplingParams(logprobs=128)` (scripts/experiment/run_inference.py). */
export const SUH_TOP_K = 128;

/**
 * The SubPOP-Eval questions Suh et al. 2025 leave out of their figures because they resemble
 * questions of their fine-tuning set (scripts/experiment/analyze_inference_result.ipynb,
 * HIGH_RELEVANCE_QKEYS['subpop-eval']).
 */
export const SUH_EXCLUDED = ["marital", "satjob", "attend", "relpersn", "othlang"] as const;

/**
 * k of OpinionQA's runs: HELM's `num_logprobs=100` for the OpenAI models (the paper's davinci,
 * text-davinci-00x, ada), which `get_opinions_qa_spec` passes as `num_outputs` and the
 * multiple-choice-joint adapter sends as `top_k_per_token` (stanford-crfm/helm,
 * run_entries_opinions_qa_openai_default.conf; the AI21 runs used 10).
 */
export const SANTURKAR_TOP_K = 100;

export interface Protocol extends Component {
  readonly title: string;
  readonly source: string;
  readonly conventions: Conventions;
  /** The file it was read from; absent for the built-ins. */
  readonly file?: string;
}

/** The conventions without a protocol (the suite's metric aside). */
const DEFAULTS = { refusals: "drop", datasets: "pooled", resamples: 1000, optionOrder: "survey" } as const;

/** Problems of a set of conventions (empty when none). */
function conventionProblems(c: Conventions): string[] {
  const out: string[] = [];
  const metric = metrics.find(String(c.metric));
  if (!metric) out.push(`conventions.metric: unknown metric "${String(c.metric)}" (choose one of: ${metrics.names.join(", ")})`);
  if (!["drop", "keep"].includes(c.refusals)) out.push(`conventions.refusals: expected drop or keep`);
  if (!["pooled", "equal"].includes(c.datasets)) out.push(`conventions.datasets: expected pooled or equal`);
  if (!(Number.isInteger(c.resamples) && c.resamples >= 10)) out.push(`conventions.resamples: expected an integer >= 10`);
  if (!["survey", "alphabetical"].includes(c.optionOrder)) out.push(`conventions.option_order: expected survey or alphabetical`);
  const lr = c.labelReading;
  if (lr !== undefined && !(lr.kind === "forms" || ((lr.kind === "top-k" || lr.kind === "top-k-sum") && Number.isInteger(lr.k) && lr.k >= 1))) {
    out.push(`conventions.label_reading: expected forms, or top-k / top-k-sum with top_k an integer >= 1`);
  }
  if (c.average !== undefined && !["populations", "pairs"].includes(c.average)) out.push(`conventions.average: expected populations or pairs`);
  if (metric?.needsOrdinals && c.refusals === "keep") {
    out.push(`conventions.metric: ${metric.name} needs an ordinal scale, where refusals kept as options have no place (use tv or jsd with refusals: keep)`);
  }
  return out;
}

/** The protocols `--protocol` accepts by name; a protocol file adds its own when it is read. */
export const protocols = new Registry<Protocol>({
  kind: "protocol",
  check: (p) => {
    const out: string[] = [];
    if (typeof p.title !== "string" || p.title === "") out.push("title: expected one line of text");
    if (typeof p.source !== "string") out.push("source: expected where the conventions come from");
    if (p.conventions === null || typeof p.conventions !== "object") out.push("conventions: expected an object");
    else out.push(...conventionProblems(p.conventions));
    return out;
  },
});

/** Built-in protocols, as data. */
const BUILT_IN: readonly Protocol[] = [
  {
    name: "santurkar2023",
    description: "OpinionQA's conventions (Santurkar et al. 2023)",
    args: NO_ARGS,
    title: "OpinionQA: label probabilities from the top-100 next tokens, refusals dropped, ordinal Wasserstein-1 normalised by the ordinal range",
    source: "Santurkar et al. 2023, Whose Opinions Do Language Models Reflect? (ICML); tatsu-lab/opinions_qa helpers.py",
    conventions: {
      metric: "wasserstein",
      refusals: "drop",
      datasets: "pooled",
      resamples: 1000,
      optionOrder: "survey",
      labelReading: { kind: "top-k", k: SANTURKAR_TOP_K },
    },
  },
  {
    name: "durmus2023",
    description: "GlobalOpinionQA's conventions (Durmus et al. 2023)",
    args: NO_ARGS,
    title: "GlobalOpinionQA: 1 - Jensen-Shannon distance (natural log, scipy's definition)",
    source: "Durmus et al. 2023, Towards Measuring the Representation of Subjective Global Opinions in Language Models",
    conventions: { metric: "jsd", refusals: "drop", datasets: "pooled", resamples: 1000, optionOrder: "survey" },
  },
  {
    name: "meister2024",
    description: "distributional alignment's conventions (Meister et al. 2024)",
    args: NO_ARGS,
    title: "Distributional alignment: total variation, refusals kept as options, options in alphabetical order, the mean over (question, group) pairs of each dataset, datasets weighted equally",
    source: "Meister et al. 2024, Benchmarking Distributional Alignment of Large Language Models; nicolemeister/benchmarking-distributional-alignment (eval_utils.py compute_three, utils.py compute_tv)",
    conventions: { metric: "tv", refusals: "keep", datasets: "equal", resamples: 1000, optionOrder: "alphabetical", average: "pairs" },
  },
  {
    name: "suh2025",
    description: "SubPOP's conventions (Suh et al. 2025)",
    args: NO_ARGS,
    title: "SubPOP: label probabilities of \"X\" and \" X\" added up from the top-128 next tokens, options without an ordinal dropped, ordinal Wasserstein-1 over the range, the mean over (question, group) pairs, five questions near the fine-tuning set left out",
    source: "Suh et al. 2025, Language Model Fine-Tuning on Scaled Survey Data for Predicting Distributions of Public Opinions (ACL); JosephJeesungSuh/subpop (run_inference.py, survey_utils.py ordinal_emd, analyze_inference_result.ipynb)",
    conventions: {
      metric: "wasserstein",
      refusals: "drop",
      datasets: "pooled",
      resamples: 1000,
      optionOrder: "survey",
      average: "pairs",
      labelReading: { kind: "top-k-sum", k: SUH_TOP_K },
      excludeQuestions: SUH_EXCLUDED,
    },
  },
];
for (const p of BUILT_IN) protocols.register(p);

/** The registered protocols (live). */
export const PROTOCOLS: readonly Protocol[] = protocols.all;

export function findProtocol(name: string): Protocol {
  return protocols.get(name);
}

// ---------------------------------------------------------------------------------------------
// Protocol files

const HINT = "docs/protocols.md, \"Writing a protocol\", describes the file; examples/extending/protocol.yaml is one";

/** What a protocol file holds. */
const FILE_SCHEMA = z.strictObject({
  name: z.string({ error: "expected a name" }).regex(/^[a-z][a-z0-9._-]*$/u, { error: 'expected lower case letters, digits, ".", "_" or "-", starting with a letter' }),
  title: z.string({ error: "expected one line of text" }).min(1, { error: "expected one line of text" }),
  source: z.string({ error: "expected where the conventions come from" }).default(""),
  description: z.string({ error: "expected one line of text" }).optional(),
  conventions: z.strictObject({
    metric: z.string({ error: `expected a metric name` }),
    refusals: z.enum(["drop", "keep"], { error: "expected drop or keep" }).default(DEFAULTS.refusals),
    datasets: z.enum(["pooled", "equal"], { error: "expected pooled or equal" }).default(DEFAULTS.datasets),
    resamples: z.int({ error: "expected an integer >= 10" }).min(10, { error: "expected an integer >= 10" }).default(DEFAULTS.resamples),
    option_order: z.enum(["survey", "alphabetical"], { error: "expected survey or alphabetical" }).default(DEFAULTS.optionOrder),
    label_reading: z.enum(["forms", "top-k", "top-k-sum"], { error: "expected forms, top-k or top-k-sum" }).default("forms"),
    exclude_questions: z.array(z.string()).optional(),
    top_k: z.int({ error: "expected an integer >= 1" }).min(1, { error: "expected an integer >= 1" }).optional(),
    average: z.enum(["populations", "pairs"], { error: "expected populations or pairs" }).optional(),
  }),
});

/** Whether `--protocol` names a file rather than a registered protocol. */
export function isProtocolFile(ref: string): boolean {
  return /[\\/]/u.test(ref) || /\.(ya?ml|json)$/iu.test(ref);
}

function fileError(source: string, lines: readonly string[]): CivitasError {
  return new CivitasError("input", lines.map((l) => `${source}: ${l}`).join("\n"), { hint: HINT });
}

/**
 * A protocol from the text of a YAML or JSON file (JSON is YAML); `source` names the file in
 * errors. Every problem is reported, each with its line and field. Not registered: see
 * loadProtocolFile.
 */
export function parseProtocol(text: string, source: string): Protocol {
  const y = parseYamlLines(text, (problems) => fileError(source, problems), "YAML or JSON");
  const raw = y.raw;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw fileError(source, ["expected a mapping with name, title, source and conventions"]);
  }
  const parsed = FILE_SCHEMA.safeParse(raw);
  if (!parsed.success) throw fileError(source, issueLines(y, parsed.error.issues));
  const f = parsed.data;
  const conventions: Conventions = {
    metric: metrics.find(f.conventions.metric)?.name ?? f.conventions.metric,
    refusals: f.conventions.refusals,
    datasets: f.conventions.datasets,
    resamples: f.conventions.resamples,
    optionOrder: f.conventions.option_order,
    ...(f.conventions.label_reading === "top-k" ? { labelReading: { kind: "top-k" as const, k: f.conventions.top_k ?? SANTURKAR_TOP_K } } : {}),
    ...(f.conventions.label_reading === "top-k-sum" ? { labelReading: { kind: "top-k-sum" as const, k: f.conventions.top_k ?? SUH_TOP_K } } : {}),
    ...(f.conventions.exclude_questions !== undefined ? { excludeQuestions: f.conventions.exclude_questions } : {}),
    ...(f.conventions.average !== undefined ? { average: f.conventions.average } : {}),
  };
  if (f.conventions.top_k !== undefined && f.conventions.label_reading === "forms") {
    throw fileError(source, [`${y.lineOf(["conventions", "top_k"])}conventions.top_k: only with label_reading: top-k or top-k-sum`]);
  }
  const problems = conventionProblems(conventions);
  if (problems.length > 0) {
    const where = (p: string) => {
      const field = p.slice(0, p.indexOf(":"));
      return `${y.lineOf(field.split("."))}${p}`;
    };
    throw fileError(source, problems.map(where));
  }
  return { name: f.name, description: f.description ?? f.title, args: NO_ARGS, title: f.title, source: f.source, conventions, file: source };
}

/**
 * Reads a protocol file, validates it and registers it under its name (reading the same protocol
 * again is fine; a name that another protocol has is an error). Returns the registered protocol.
 */
export async function loadProtocolFile(file: string): Promise<Protocol> {
  const text = await readText(file, "protocol file", { hint: `give a protocol name (${protocols.names.join(", ")}) or a YAML or JSON file; ${HINT}` });
  const p = parseProtocol(text, file);
  const existing = protocols.find(p.name);
  if (existing) {
    const same = isDeepStrictEqual([existing.title, existing.source, existing.conventions], [p.title, p.source, p.conventions]);
    if (same && existing.file !== undefined) return existing;
    throw fileError(file, [
      `name: a protocol named "${p.name}" is registered already (${existing.file === undefined ? "built in" : `from ${existing.file}`}); give yours another name`,
    ]);
  }
  return protocols.register(p);
}

/** `--protocol`: a registered name, or a file (a path, or a name ending in .yaml, .yml or .json), read and registered. */
export async function resolveProtocol(ref: string): Promise<Protocol> {
  return isProtocolFile(ref) ? loadProtocolFile(ref) : findProtocol(ref);
}

/**
 * What a reader must know of a result scored under a protocol on a suite (printed with its
 * warnings: terminal, --json, report). santurkar2023 on the released OpinionQA files: the paper
 * weighted respondents by the wave's survey weight (helpers.py, extract_human_opinions, lines
 * 115-127: `WEIGHT_W{wave}` summed per option), the released files hold unweighted counts.
 */
export function protocolNotes(protocol: string | null, suite: Pick<Suite, "name">): string[] {
  if (protocol === "santurkar2023" && suite.name === "opinionqa") {
    return [
      "santurkar2023: the released OpinionQA human files are unweighted respondent counts, while the paper weighted each respondent by the wave's survey weight (WEIGHT_W{wave}): the human distributions, and so the numbers, can differ from the paper's. To reproduce it exactly, give Pew's ATP files as a custom survey of individual responses with their weights (docs/protocols.md)",
    ];
  }
  return [];
}

/**
 * The conventions a command scores with: the protocol's, else the suite's defaults; an explicit
 * --metric or --resamples wins over both.
 */
export function resolveConventions(
  suite: Suite,
  options: { readonly protocol?: string; readonly metric?: MetricName; readonly resamples?: number } = {},
): Conventions & { readonly protocol: string | null } {
  const base: Conventions = options.protocol ? findProtocol(options.protocol).conventions : { metric: suite.defaultMetric, ...DEFAULTS };
  const c = {
    ...base,
    ...(options.metric ? { metric: options.metric } : {}),
    ...(options.resamples ? { resamples: options.resamples } : {}),
    protocol: options.protocol ? findProtocol(options.protocol).name : null,
  };
  if (c.refusals === "keep" && findMetric(c.metric).needsOrdinals) {
    throw new CivitasError("usage", `the ${c.metric} metric cannot keep refusals as options: they have no place on the ordinal scale`, {
      hint: "use --metric tv or jsd with this protocol",
    });
  }
  return c;
}
