/**
 * Protocols: named presets of a paper's scoring conventions, so that its published numbers can be
 * reproduced with `--protocol`. Without one, civitas uses the suite's default metric, drops
 * refusals and pools questions across datasets. Sources and details: docs/protocols.md.
 */
import { CivitasError } from "../errors.js";
import { METRICS, type MetricName } from "../metrics/index.js";
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
}

export interface Protocol {
  readonly name: string;
  readonly title: string;
  readonly source: string;
  readonly conventions: Conventions;
}

export const PROTOCOLS: readonly Protocol[] = [
  {
    name: "santurkar2023",
    title: "OpinionQA: refusals dropped, ordinal Wasserstein-1 normalised by the ordinal range",
    source: "Santurkar et al. 2023, Whose Opinions Do Language Models Reflect? (ICML); tatsu-lab/opinions_qa helpers.py",
    conventions: { metric: "wasserstein", refusals: "drop", datasets: "pooled", resamples: 1000, optionOrder: "survey" },
  },
  {
    name: "durmus2023",
    title: "GlobalOpinionQA: 1 - Jensen-Shannon distance (natural log, scipy's definition)",
    source: "Durmus et al. 2023, Towards Measuring the Representation of Subjective Global Opinions in Language Models",
    conventions: { metric: "jsd", refusals: "drop", datasets: "pooled", resamples: 1000, optionOrder: "survey" },
  },
  {
    name: "meister2024",
    title: "Distributional alignment: total variation, refusals kept as options, options in alphabetical order, datasets weighted equally",
    source: "Meister et al. 2024, Benchmarking Distributional Alignment of Large Language Models; nicolemeister/benchmarking-distributional-alignment",
    conventions: { metric: "tv", refusals: "keep", datasets: "equal", resamples: 1000, optionOrder: "alphabetical" },
  },
];

export function findProtocol(name: string): Protocol {
  const p = PROTOCOLS.find((x) => x.name === name.toLowerCase());
  if (!p) {
    throw new CivitasError("usage", `unknown protocol "${name}"`, { hint: `choose among ${PROTOCOLS.map((x) => x.name).join(", ")}` });
  }
  return p;
}

/**
 * The conventions a command scores with: the protocol's, else the suite's defaults; an explicit
 * --metric or --resamples wins over both.
 */
export function resolveConventions(
  suite: Suite,
  options: { readonly protocol?: string; readonly metric?: MetricName; readonly resamples?: number } = {},
): Conventions & { readonly protocol: string | null } {
  const base: Conventions = options.protocol
    ? findProtocol(options.protocol).conventions
    : { metric: suite.defaultMetric, refusals: "drop", datasets: "pooled", resamples: 1000, optionOrder: "survey" };
  const c = {
    ...base,
    ...(options.metric ? { metric: options.metric } : {}),
    ...(options.resamples ? { resamples: options.resamples } : {}),
    protocol: options.protocol ? findProtocol(options.protocol).name : null,
  };
  if (c.refusals === "keep" && METRICS[c.metric].needsOrdinals) {
    throw new CivitasError("usage", `the ${c.metric} metric cannot keep refusals as options: they have no place on the ordinal scale`, {
      hint: "use --metric tv or jsd with this protocol",
    });
  }
  return c;
}
