/**
 * What kind of number each simulation metric is, and so which interval across seeds describes its
 * mean. One registry for every dynamics (a metric name means the same wherever it appears), read by
 * the summaries of a sweep (`seedInterval` and `summarizeMetrics` in sweep.ts), the text output and
 * the report's charts.
 *
 * - "indicator": 0 or 1 per seed (consensus). The mean is the share of seeds where it held, a
 *   binomial proportion: its interval is the Wilson score interval (metrics/intervals.ts), which
 *   stays inside [0, 1] and is not empty when every seed agrees. A Student t-interval on 0/1 values
 *   gives nonsense such as [-0.355, 0.755] for 1 of 5 seeds, and [1, 1] for 5 of 5.
 * - "bounded": a value with a known range (shares and distances in [0, 1], counts and times >= 0,
 *   opinions that start uniform on [0, 1] and move by averaging). The interval is Student's t
 *   clipped to the range. Clipping cannot exclude the true mean (it lies in the range), so the
 *   coverage is that of the t-interval; it only removes values the mean cannot take, such as a
 *   negative number of steps. (A percentile bootstrap across seeds would also stay in range, but
 *   with the 3 to 20 seeds of a typical sweep it is too narrow: it cannot reach past the observed
 *   values.)
 * - "real": anything else, Student's t.
 *
 * A metric a dynamics reports that is not listed here is "real". If a seed's value falls outside a
 * listed range (a dynamics that does not do what the registry says), the summary falls back to the
 * plain t-interval rather than clip a wrong range.
 */
export type MetricKind =
  | { readonly kind: "indicator"; readonly doc: string }
  | { readonly kind: "bounded"; readonly min: number; readonly max: number; readonly doc: string }
  | { readonly kind: "real"; readonly doc: string };

const indicator = (doc: string): MetricKind => ({ kind: "indicator", doc });
const share = (doc: string): MetricKind => ({ kind: "bounded", min: 0, max: 1, doc });
const nonNegative = (doc: string): MetricKind => ({ kind: "bounded", min: 0, max: Number.POSITIVE_INFINITY, doc });

/** Metrics by name; `<k>` stands for a number (one metric per option, strategy, number of peers). */
export const METRIC_KINDS: Readonly<Record<string, MetricKind>> = {
  consensus: indicator("1 when every agent holds the same opinion or answer, else 0"),
  clusters: nonNegative("opinion clusters or answers held by at least 5% of agents"),
  steps: nonNegative("steps run before the dynamics converged or hit its limit"),
  largest: share("share of agents in the largest cluster"),
  mean: share("mean opinion (opinions start uniform on [0, 1] and move by averaging)"),
  spread: share("largest minus smallest opinion, on [0, 1]"),
  fraction: share("voter model: share of agents holding opinion 1"),
  time: nonNegative("voter model: updates per agent until consensus"),
  "share_<k>": share("share of agents giving answer k"),
  polarization: share("4 x the variance of the answers' positions on [0, 1]"),
  bimodality: share("the bimodality coefficient, in (0, 1]"),
  changed: nonNegative("agents whose answer changed in the last step"),
  tv_population: share("total variation from the population's answers"),
  tv_overall: share("total variation from the overall population's answers"),
  switch_rate: share("share of agents who switched to the peers' answer, over k"),
  "switch_rate_<k>": share("share of agents who switched under k unanimous peers"),
  "switch_group_<k>": share("pressure: share of group k's agents who switched to the peers' answer, over k"),
  "peer_mass_<k>": share("the model's probability of the peers' answer under k peers"),
  "correct_<k>": share("share of agents answering correctly under k peers"),
  cooperation: share("donor game: mean share of resources given"),
  resources: nonNegative("donor game: mean resources at the end of a generation"),
  unparsed: share("donor game: share of the model's decisions that named no amount"),
  llm_share: share("share of agents that ask the model"),
  "strategy_<k>": share("donor game: share of agents following strategy k"),
  generosity: share("donor game: mean share given by rule-based agents"),
  donation: share("cooperation: mean share of resources given per decision"),
  punish_rate: share("cooperation: share of decisions that punish"),
  strategy_words: nonNegative("cooperation: mean words of the model-written strategies"),
  position: share("debate: mean attitude, the expected position on the question's scale normalised to [0, 1]"),
  change: share("debate: mean absolute change of an agent's attitude since step 0"),
  "shift_<k>": { kind: "bounded", min: -1, max: 1, doc: "debate: mean change of group k's attitudes since step 0" },
  "tv_start_<k>": share("debate: total variation of group k's answers from its real ones at step 0"),
  "tv_<k>": share("debate: total variation of group k's answers from its real ones"),
  in_range: share("debate: share of agents whose attitude lies in their group's real range"),
  "in_range_<k>": share("debate: share of group k's agents whose attitude lies in its real range"),
  adherence: share("debate: mean share of an agent's answers so far within its group's real range"),
  memory_tokens: nonNegative("debate: mean estimated tokens of the model-driven agents' memories"),
};

const REAL: MetricKind = { kind: "real", doc: "no known range" };

/** The kind of a metric by name (see METRIC_KINDS); "real" when it is not listed. */
export function metricKind(name: string): MetricKind {
  const exact = METRIC_KINDS[name];
  if (exact) return exact;
  const m = /^(.*_)\d+$/u.exec(name);
  return (m && METRIC_KINDS[`${m[1]}<k>`]) || REAL;
}
