/**
 * `opinion`: a survey question spreads over a network of personas.
 *
 * World. Agents are members of the groups of a survey attribute (`attribute`, e.g. POLPARTY: the
 * suite's Republicans, Democrats, Independents, Other) in the groups' real shares: group g's share
 * is n_g / sum n, n_g being the respondents of g who answered the question (`HumanDistribution.n`:
 * OpinionQA's unweighted counts of the scored answers). Agents per group by the largest remainder
 * (Hamilton) method, then placed on the graph's nodes by a seeded shuffle. Groups without answers to
 * the question are left out; when a group's n is unknown, every group gets an equal share.
 * Without `attribute` there is one group: the suite's reference population (`overall`), no persona.
 * Each group's persona is its steering persona (`personasFor`, as `civitas eval --persona`).
 *
 * State. Every agent holds one of the question's scored options (refusals such as "Refused" are
 * shown to the model, as the standard prompt shows every option, but never held: the model's
 * distribution is renormalised over the scored options, as eval's default refusal policy drops
 * them). `init: human` (default) draws each agent's answer from its group's human distribution;
 * `init: model` asks the model once per model-driven agent with its persona, the exact prompt of
 * `civitas eval --persona` (so the two share cached answers), and samples the answer.
 *
 * Step (synchronous; every agent from the answers at the start of the step). A model-driven agent
 * (a share `llm_share` of the agents, chosen at random) sees its neighbours' answers and answers
 * again; the prompt is
 *
 *     <persona>\n\n
 *     Of the people you talk to, 3 answered 'Very safe', 1 answered 'Not too safe'.\n\n
 *     Question: How safe, if at all, would you say your local community is from crime? ...\n
 *     A. Very safe\n ... E. Refused\n
 *     Answer:
 *
 * (the standard prompt of `renderPrompt` after the persona and the sentence; options in the
 * sentence by count, most first, ties in survey order; an agent without neighbours asks the plain
 * persona prompt). All model calls of a step are
 * issued together (the SimModel bounds how many are in flight); then, agent by agent in order, the
 * new answer is drawn from the returned distribution with the run's RNG, so a replay of the record
 * gives a bit-identical run. An answer with no probability on any scored option keeps the agent's
 * answer (the draw is still made). The other agents follow the voter model: each copies the answer
 * of a uniformly drawn neighbour (keeps its own without neighbours). `llm_share: 0` asks nothing.
 *
 * Converged when no agent changed its answer in a step (or at the step limit).
 *
 * Metrics (every measured step): `share_<k>` (share holding option k, k its survey index, scored
 * options only); `polarization` and `bimodality` over the answers' ordinal positions normalised
 * to [0, 1] (see below; NaN for nominal questions); `clusters` (options held by >= 5% of agents);
 * `consensus` (1 when all hold the same answer); `changed` (agents whose answer changed in the
 * last step); `tv_population`, the total variation distance of the agents' answer distribution
 * from the population's real one, sum_g share_g * human_g with the agents' group shares (Meister
 * et al. 2024's TV); and `tv_overall`, the same from the suite's reference population (`overall`)
 * when it has the question. The value at the last step is the end result.
 *
 * Population and measurement. With `population:` (deps.population) the agents and their personas
 * are the drawn ones (see surveySetup). `agents()` gives each agent's attributes, persona, and as
 * its memory the sentence about its peers' answers it read at its last step ("" before any), so a
 * measured agent is asked persona, that sentence, then the survey question (src/sim/measure.ts).
 *
 * Params: question (survey question id, required), attribute (optional; an attribute, or a list
 * of groups or attributes as `--populations` takes them), populations (the same, and preferred to
 * attribute when both are given), init (human | model), llm_share (default 1 with a model, else 0).
 * The runner passes the scenario's `survey.question`, `survey.attribute` and `survey.populations`
 * (comma-joined) as the params `question`, `attribute` and `populations`, and the loaded suite as
 * `deps.suite`.
 */
import { CivitasError } from "../../errors.js";
import type { Rng } from "../../metrics/index.js";
import { numberParam } from "../engine.js";
import { neighborsOf, randomNeighbor } from "../graph.js";
import {
  NO_PERSONA,
  parseVariant,
  personasFor,
  renderPrompt,
  resolvePopulations,
  splitPopulationList,
  STANDARD_VARIANT,
  type Persona,
  type Population,
  type Question,
  type RenderedPrompt,
  type Suite,
} from "../../surveys/index.js";
import type { AgentPopulation, Dynamics, DynamicsDeps, Graph, MeasuredAgent, Params, SimModel } from "../types.js";

// ---------------------------------------------------------------------------------------------
// Shared by the survey-driven scenarios (opinion, conformity)

/** A group of agents: a population of the survey with its persona and its answers. */
export interface AgentGroup {
  /** The population (e.g. POLPARTY=Democrat), or null for a world without one. */
  readonly population: Population | null;
  readonly persona: Persona;
  /** Share of the agents (sums to 1 over the groups). */
  readonly weight: number;
  /** Human distribution over the scored options (survey order), or null when the suite has none. */
  readonly human: readonly number[] | null;
  /** The standard prompt with the persona: what `civitas eval --persona` asks. */
  readonly prompt: RenderedPrompt;
  /** The persona paragraph that starts every prompt of the group ("" without a persona). */
  readonly personaPart: string;
  /** The prompt after the persona paragraph. */
  readonly rest: string;
  /**
   * The same standard prompt rendered without the persona (NO_PERSONA): the plain prompt a steered
   * scenario decodes the group's prompt against (src/sim/steer.ts).
   */
  readonly plain: string;
}

/** A survey question made ready for agents. */
export interface SurveySetup {
  readonly suite: Suite;
  readonly question: Question;
  /** Survey indices of the scored options, in survey order. */
  readonly scored: readonly number[];
  /** Scored option texts, by scored index. */
  readonly options: readonly string[];
  /** For each shown label (prompt order): its scored index, or -1 for a refusal option. */
  readonly shownToScored: Int32Array;
  readonly labels: readonly string[];
  readonly groups: readonly AgentGroup[];
  /** The ordinal positions of the scored options normalised to [0, 1], or null (nominal). */
  readonly positions: Float64Array | null;
  /** The population's real distribution: sum_g weight_g human_g (null when a group has none). */
  readonly population: readonly number[] | null;
  /** The suite's reference population's distribution (e.g. overall), when it has one. */
  readonly reference: readonly number[] | null;
  /**
   * With a drawn population (`deps.population`): each agent's group (node order), fixed by the
   * draw; absent otherwise (groups are then placed by `assignGroups`).
   */
  readonly agentGroup?: Int32Array;
  /** Each group's attributes (as MeasuredAgent.attributes show them), by group. */
  readonly attributes: readonly Readonly<Record<string, string>>[];
}

/** A string parameter among choices. */
export function choiceParam<T extends string>(params: Params, name: string, choices: readonly T[], fallback: T): T {
  const raw = params[name] ?? fallback;
  const v = String(raw).trim().toLowerCase();
  const hit = choices.find((c) => c === v);
  if (hit === undefined) throw new CivitasError("usage", `parameter ${name} must be one of ${choices.join(", ")}, got ${String(raw)}`);
  return hit;
}

/** `llm_share`: default 1 with a model, 0 without; a positive share without a model is an error. */
export function llmShareParam(scenario: string, params: Params, model: SimModel | undefined): number {
  const share = numberParam(params, "llm_share", { default: model ? 1 : 0, min: 0, max: 1 });
  if (share > 0 && model === undefined) {
    throw new CivitasError("usage", `scenario ${scenario}: llm_share = ${share} needs a model`, {
      hint: "name one in the scenario (model: { spec: ... }), or set llm_share: 0 for rule-based agents only",
    });
  }
  return share;
}

function stringParam(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  const s = String(v).trim();
  return s === "" ? undefined : s;
}

/**
 * The question, groups, personas and prompts of a survey-driven scenario.
 *
 * With a drawn population (`deps.population`, src/sim/population.ts), a group is each distinct
 * profile (attributes and persona) of the drawn agents, in order of first appearance, with the
 * agents' own personas; its real answers are those of its value of the grouping attribute
 * (`survey.attribute` or `survey.populations` naming one attribute, else the population's first
 * attribute), which must be one of the population's attributes. Its weight is its share of agents.
 */
export function surveySetup(scenario: string, params: Params, suite: Suite | undefined, drawn?: AgentPopulation): SurveySetup {
  if (suite === undefined) {
    throw new CivitasError("usage", `scenario ${scenario} needs a survey`, { hint: "add survey: { suite, data, question, attribute } to the scenario" });
  }
  const qid = stringParam(params, "question");
  if (qid === undefined) throw new CivitasError("usage", `scenario ${scenario} needs a survey question (survey.question, e.g. SAFECRIME_W26)`);
  const question = suite.questions.find((q) => q.id === qid) ?? suite.questions.find((q) => q.id.toLowerCase() === qid.toLowerCase());
  if (question === undefined) {
    throw new CivitasError("usage", `scenario ${scenario}: suite ${suite.name} has no question "${qid}"`, {
      hint: `\`civitas suites show ${suite.name}\` lists its questions`,
    });
  }
  const scored: number[] = [];
  question.refusal.forEach((r, i) => {
    if (!r) scored.push(i);
  });
  if (scored.length < 2) throw new CivitasError("usage", `scenario ${scenario}: question ${question.id} has fewer than two scored options`);
  const scoredPos = new Map(scored.map((s, k) => [s, k]));

  const template = suite.template ?? "opinionqa";
  const variant = template === "opinionqa" ? STANDARD_VARIANT : parseVariant("standard", template);
  // `populations` (survey.populations: groups or attributes) is the more specific choice
  const attribute = stringParam(params, "populations") ?? stringParam(params, "attribute");
  const pops = attribute === undefined ? [] : resolvePopulations(suite, splitPopulationList(attribute));
  const personas = personasFor(suite, pops);
  const humanOf = (p: Population | null): readonly number[] | null => {
    if (p === null) return null;
    const h = suite.human(question.id, p.id);
    return h !== undefined && h.probs.length === scored.length ? h.probs : null;
  };
  const nOf = (p: Population): number | null => suite.human(question.id, p.id)?.n ?? null;

  const make = (population: Population | null, persona: Persona, weight: number): AgentGroup => {
    const prompt = renderPrompt(question, variant, persona, "logprobs");
    const personaPart = persona.text ? `${persona.text.trim()}\n\n` : "";
    const plain = renderPrompt(question, variant, NO_PERSONA, "logprobs").text;
    return { population, persona, weight, human: humanOf(population), prompt, personaPart, rest: prompt.text.slice(personaPart.length), plain };
  };

  let groups: AgentGroup[];
  let agentGroup: Int32Array | undefined;
  let attributes: Readonly<Record<string, string>>[];
  if (drawn !== undefined) {
    const by = attribute === undefined ? drawn.attributes[0]! : (pops[0]?.attribute ?? attribute);
    if (!drawn.attributes.includes(by)) {
      throw new CivitasError("usage", `scenario ${scenario}: survey.attribute ${by} is not among the population's attributes (${drawn.attributes.join(", ")})`, {
        hint: "add it to population.attributes, or group by one of them",
      });
    }
    const index = new Map<string, number>();
    agentGroup = new Int32Array(drawn.agents.length);
    groups = [];
    attributes = [];
    drawn.agents.forEach((a, i) => {
      const key = JSON.stringify([a.persona, drawn.attributes.map((x) => a.attributes[x] ?? null)]);
      let g = index.get(key);
      if (g === undefined) {
        g = groups.length;
        index.set(key, g);
        const value = a.attributes[by];
        const pop = suite.populations.find((p) => p.attribute === by && p.value === value);
        if (pop === undefined) {
          throw new CivitasError("usage", `scenario ${scenario}: agent ${i} has ${by} = "${String(value)}", which is not a group of suite ${suite.name}`);
        }
        groups.push(make(pop, a.persona === "" ? NO_PERSONA : { id: key, text: a.persona }, 0));
        attributes.push(a.attributes);
      }
      agentGroup![i] = g;
    });
    const sizes = new Array<number>(groups.length).fill(0);
    for (const g of agentGroup) sizes[g]!++;
    groups = groups.map((g, k) => ({ ...g, weight: sizes[k]! / drawn.agents.length }));
    if (groups.some((g) => g.human === null)) {
      const missing = groups.find((g) => g.human === null)!;
      throw new CivitasError("usage", `scenario ${scenario}: ${missing.population?.id ?? "a group"} has no answers to ${question.id} in suite ${suite.name}`, {
        hint: "choose a question every group of the population answered",
      });
    }
  } else if (pops.length === 0) {
    const ref = suite.reference === null ? null : (suite.populations.find((p) => p.id === suite.reference) ?? null);
    groups = [make(ref, NO_PERSONA, 1)];
    attributes = [{}];
  } else {
    const withData = pops.filter((p) => humanOf(p) !== null);
    if (withData.length === 0) {
      throw new CivitasError("usage", `scenario ${scenario}: no group of ${attribute} answered ${question.id} in suite ${suite.name}`, {
        hint: "choose another attribute or question",
      });
    }
    const ns = withData.map(nOf);
    const known = ns.every((n) => n !== null && n > 0);
    const total = known ? ns.reduce<number>((a, b) => a + b!, 0) : withData.length;
    groups = withData.map((p, g) => make(p, personas.get(p.id) ?? NO_PERSONA, known ? ns[g]! / total : 1 / withData.length));
    attributes = withData.map((p) => (p.attribute === null ? {} : { [p.attribute]: p.value }));
  }

  const first = groups[0]!.prompt;
  const shownToScored = Int32Array.from(first.order, (s) => scoredPos.get(s) ?? -1);
  let positions: Float64Array | null = null;
  if (question.ordinals !== null && question.ordinals.length === scored.length) {
    const lo = Math.min(...question.ordinals);
    const hi = Math.max(...question.ordinals);
    positions = Float64Array.from(question.ordinals, (o) => (hi > lo ? (o - lo) / (hi - lo) : 0));
  }
  const population = groups.every((g) => g.human !== null)
    ? scored.map((_, k) => groups.reduce((a, g) => a + g.weight * g.human![k]!, 0))
    : null;
  const refHuman = suite.reference === null ? undefined : suite.human(question.id, suite.reference);
  return {
    suite,
    question,
    scored,
    options: scored.map((s) => question.options[s]!),
    shownToScored,
    labels: first.labels,
    groups,
    positions,
    population,
    reference: refHuman !== undefined && refHuman.probs.length === scored.length ? refHuman.probs : null,
    ...(agentGroup === undefined ? {} : { agentGroup }),
    attributes,
  };
}

/** The agents' groups: fixed by a drawn population, else placed in the groups' shares (assignGroups). */
export function groupsOf(setup: SurveySetup, n: number, rng: Rng): Int32Array {
  if (setup.agentGroup === undefined) return assignGroups(n, setup.groups.map((g) => g.weight), rng);
  if (setup.agentGroup.length !== n) throw new CivitasError("usage", `the population has ${setup.agentGroup.length} agents but the graph ${n} nodes`);
  return setup.agentGroup;
}

/**
 * The agents as survey respondents (`Dynamics.agents`): each one's group's attributes and persona,
 * whether it asks the model, and its memory (`memory[i]`, "" for none).
 */
export function measuredAgents(setup: SurveySetup, group: Int32Array, llm: Uint8Array, memory: (i: number) => string): MeasuredAgent[] {
  const out: MeasuredAgent[] = new Array(group.length);
  for (let i = 0; i < group.length; i++) {
    const g = setup.groups[group[i]!]!;
    out[i] = { attributes: setup.attributes[group[i]!]!, persona: g.persona.text, llm: llm[i] === 1, memory: llm[i] === 1 ? memory(i) : "" };
  }
  return out;
}

/**
 * Agents per group by the largest remainder (Hamilton) method (the remaining seats go to the largest
 * fractional quotas, ties to the first group), placed on the nodes by a seeded Fisher-Yates shuffle.
 */
export function assignGroups(n: number, weights: readonly number[], rng: Rng): Int32Array {
  const quotas = weights.map((w) => w * n);
  const seats = quotas.map(Math.floor);
  let left = n - seats.reduce((a, b) => a + b, 0);
  const byRemainder = quotas.map((q, g) => ({ g, r: q - Math.floor(q) })).sort((a, b) => b.r - a.r || a.g - b.g);
  for (let i = 0; left > 0; i = (i + 1) % byRemainder.length, left--) seats[byRemainder[i]!.g]!++;
  const out = new Int32Array(n);
  for (let g = 0, i = 0; g < seats.length; g++) for (let s = 0; s < seats[g]!; s++) out[i++] = g;
  shuffle(out, rng);
  return out;
}

export function shuffle(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** round(share * n) agents chosen uniformly at random (a seeded partial Fisher-Yates) ask the model: 1, the others 0. */
export function chooseModelAgents(n: number, share: number, rng: Rng): Uint8Array {
  const k = Math.round(share * n);
  const out = new Uint8Array(n);
  if (k === n) return out.fill(1);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = 0; i < k; i++) {
    const r = rng.int(i, n - 1);
    const t = perm[r]!;
    perm[r] = perm[i]!;
    perm[i] = t;
    out[t] = 1;
  }
  return out;
}

/** An index drawn from `probs` (non-negative, summing to 1) with the uniform u in [0, 1). */
export function drawIndex(probs: ArrayLike<number>, u: number): number {
  let acc = 0;
  let last = -1;
  for (let k = 0; k < probs.length; k++) {
    const p = probs[k]!;
    if (p <= 0) continue;
    acc += p;
    last = k;
    if (u < acc) return k;
  }
  return last;
}

/**
 * The model's distribution over the scored options (scored index order) from one over the shown
 * labels, renormalised; null when none of it is on a scored option.
 */
export function scoredDistribution(setup: SurveySetup, shown: readonly number[]): Float64Array | null {
  const out = new Float64Array(setup.scored.length);
  let total = 0;
  for (let k = 0; k < shown.length; k++) {
    const s = setup.shownToScored[k]!;
    if (s >= 0) {
      out[s]! += shown[k]!;
      total += shown[k]!;
    }
  }
  if (!(total > 0)) return null;
  for (let k = 0; k < out.length; k++) out[k]! /= total;
  return out;
}

/**
 * Asks every model agent its group's unpressured persona prompt (all at once, up to the model's
 * limit) and returns each one's distribution over the scored options (null when none), by agent.
 */
export async function askPersonas(
  model: SimModel,
  setup: SurveySetup,
  group: Int32Array,
  llm: Uint8Array,
  labels: readonly string[],
  step: number,
): Promise<(Float64Array | null)[]> {
  const out: (Float64Array | null)[] = Array.from({ length: group.length }, () => null);
  const calls: Promise<void>[] = [];
  for (let i = 0; i < group.length; i++) {
    if (!llm[i]) continue;
    const g = setup.groups[group[i]!]!;
    calls.push(model.optionDistribution({ prompt: g.prompt.text, plain: g.plain, labels, step, agent: i }).then((r) => void (out[i] = scoredDistribution(setup, r.distribution))));
  }
  await Promise.all(calls);
  return out;
}

/** "Of the people you talk to, 3 answered 'Very safe', 1 answered 'Not too safe'." (most first, ties in survey order); "" when no one. */
export function peersSentence(counts: ArrayLike<number>, options: readonly string[]): string {
  const order: number[] = [];
  for (let k = 0; k < counts.length; k++) if (counts[k]! > 0) order.push(k);
  if (order.length === 0) return "";
  order.sort((a, b) => counts[b]! - counts[a]! || a - b);
  return `Of the people you talk to, ${order.map((k) => `${counts[k]} answered '${options[k]}'`).join(", ")}.`;
}

/** The prompt of a group's agent after hearing its peers: persona paragraph, sentence, standard prompt. */
export function pressuredPrompt(group: AgentGroup, sentence: string): string {
  if (sentence === "") return group.prompt.text;
  return `${group.personaPart}${sentence}\n\n${group.rest}`;
}

/** The same prompt without the persona paragraph: the sentence, then the plain standard prompt. */
export function plainPressuredPrompt(group: AgentGroup, sentence: string): string {
  if (sentence === "") return group.plain;
  return `${sentence}\n\n${group.plain}`;
}

/** A prompt an agent asks and its plain counterpart (SimQuery.plain). */
export interface AgentPrompt {
  readonly prompt: string;
  readonly plain: string;
}

/** pressuredPrompt and plainPressuredPrompt together. */
export function pressuredPrompts(group: AgentGroup, sentence: string): AgentPrompt {
  return { prompt: pressuredPrompt(group, sentence), plain: plainPressuredPrompt(group, sentence) };
}

// ---------------------------------------------------------------------------------------------
// Metrics of answers on an ordinal scale

/** Weighted central moments of values x_k held by counts c_k: [N, mean, m2, m3, m4] (population moments). */
function moments(counts: ArrayLike<number>, x: ArrayLike<number>): [number, number, number, number, number] {
  let n = 0;
  let s = 0;
  for (let k = 0; k < counts.length; k++) {
    n += counts[k]!;
    s += counts[k]! * x[k]!;
  }
  const mean = n > 0 ? s / n : Number.NaN;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let k = 0; k < counts.length; k++) {
    const d = x[k]! - mean;
    const d2 = d * d;
    m2 += counts[k]! * d2;
    m3 += counts[k]! * d2 * d;
    m4 += counts[k]! * d2 * d2;
  }
  return [n, mean, m2 / n, m3 / n, m4 / n];
}

/**
 * Polarization: the variance of the answers' positions on [0, 1] (ordinals normalised to (o - min)
 * / (max - min)), divided by its maximum 1/4 (half the agents at each end), so in [0, 1]: 0 when all
 * agree, 1 when split evenly between the extremes. `counts[k]` agents hold position `x[k]`.
 */
export function polarization(counts: ArrayLike<number>, x: ArrayLike<number>): number {
  const [n, , m2] = moments(counts, x);
  return n > 0 ? 4 * m2 : Number.NaN;
}

/**
 * The bimodality coefficient (SAS Institute 1990; Pfister, Schwarz, Janczyk, Dale and Freeman,
 * "Good things peak in pairs: a note on the bimodality coefficient", Frontiers in Psychology 4:700,
 * 2013): BC = (G1^2 + 1) / (G2 + 3 (n - 1)^2 / ((n - 2)(n - 3))), G1 the sample skewness and G2 the
 * sample excess kurtosis with the usual small-sample corrections (scipy's skew / kurtosis with
 * bias=False): G1 = sqrt(n (n - 1)) / (n - 2) * m3 / m2^1.5, G2 = ((n + 1) (m4 / m2^2 - 3) + 6)
 * (n - 1) / ((n - 2)(n - 3)). In (0, 1]; above 5/9 (the uniform distribution's value) suggests
 * two modes. NaN with fewer than 4 answers or when all answers are equal.
 */
export function bimodalityCoefficient(counts: ArrayLike<number>, x: ArrayLike<number>): number {
  const [n, , m2, m3, m4] = moments(counts, x);
  if (!(n >= 4) || !(m2 > 1e-300)) return Number.NaN;
  const g1 = m3 / m2 ** 1.5;
  const g2 = m4 / (m2 * m2) - 3;
  const G1 = (Math.sqrt(n * (n - 1)) / (n - 2)) * g1;
  const G2 = (((n + 1) * g2 + 6) * (n - 1)) / ((n - 2) * (n - 3));
  return (G1 * G1 + 1) / (G2 + (3 * (n - 1) ** 2) / ((n - 2) * (n - 3)));
}

/** Total variation between the share vector of `counts` (over `total`) and `p`. */
function tvFromCounts(counts: ArrayLike<number>, total: number, p: readonly number[]): number {
  let d = 0;
  for (let k = 0; k < p.length; k++) d += Math.abs(counts[k]! / total - p[k]!);
  return d / 2;
}

// ---------------------------------------------------------------------------------------------
// The scenario

export interface OpinionState {
  readonly n: number;
  /** Answer of each agent: a scored index. */
  answer: Int32Array;
  /** Scratch for the next answers (swapped with `answer` every step). */
  next: Int32Array;
  /** Group of each agent. */
  readonly group: Int32Array;
  /** 1 when the agent asks the model. */
  readonly llm: Uint8Array;
  /** Agents whose answer changed in the last step (0 after init). */
  changed: number;
  /** Prompts by group and neighbour counts, built once. */
  readonly prompts: Map<string, AgentPrompt>;
  /** What each model-driven agent last read: the sentence about its peers' answers of its last step ("" before any). */
  readonly heard: string[];
}

export interface OpinionDynamics extends Dynamics<OpinionState> {
  readonly setup: SurveySetup;
  readonly llmShare: number;
  readonly initMode: "human" | "model";
}

export function createOpinion(params: Params, deps: DynamicsDeps): OpinionDynamics {
  const setup = surveySetup("opinion", params, deps.suite, deps.population);
  const model = deps.model;
  const llmShare = llmShareParam("opinion", params, model);
  const initMode = choiceParam(params, "init", ["human", "model"] as const, "human");
  if (initMode === "human" && setup.groups.some((g) => g.human === null)) {
    throw new CivitasError("usage", `scenario opinion: init: human needs the groups' answers to ${setup.question.id}, which suite ${setup.suite.name} lacks`, {
      hint: "use init: model, or a survey attribute with human answers",
    });
  }
  if (initMode === "model" && llmShare < 1 && setup.groups.some((g) => g.human === null)) {
    throw new CivitasError("usage", "scenario opinion: agents that do not ask the model start from their group's human answers, which this survey lacks", {
      hint: "set llm_share: 1",
    });
  }
  const m = setup.scored.length;
  const labels = setup.labels;

  const promptFor = (st: OpinionState, g: number, counts: Int32Array): AgentPrompt & { sentence: string } => {
    const key = `${g}:${counts.join(",")}`;
    let p = st.prompts.get(key) as (AgentPrompt & { sentence: string }) | undefined;
    if (p === undefined) {
      const sentence = peersSentence(counts, setup.options);
      p = { ...pressuredPrompts(setup.groups[g]!, sentence), sentence };
      st.prompts.set(key, p);
    }
    return p;
  };

  return {
    name: "opinion",
    update: "synchronous",
    setup,
    llmShare,
    initMode,
    async init({ graph, rng }) {
      const n = graph.n;
      const group = groupsOf(setup, n, rng);
      const llm = chooseModelAgents(n, llmShare, rng);
      const answer = new Int32Array(n);
      const st: OpinionState = { n, answer, next: new Int32Array(n), group, llm, changed: 0, prompts: new Map(), heard: new Array<string>(n).fill("") };
      if (initMode === "model" && model !== undefined) {
        const got = await askPersonas(model, setup, group, llm, labels, 0);
        for (let i = 0; i < n; i++) {
          const u = rng.float();
          if (llm[i]) {
            const d = got[i]!;
            answer[i] = d === null ? drawIndex(uniformOver(m), u) : drawIndex(d, u);
          } else {
            answer[i] = drawIndex(setup.groups[group[i]!]!.human!, u);
          }
        }
      } else {
        for (let i = 0; i < n; i++) answer[i] = drawIndex(setup.groups[group[i]!]!.human!, rng.float());
      }
      return st;
    },
    async step(st, { graph, rng, step }) {
      const n = st.n;
      const prev = st.answer;
      const next = st.next;
      const asked = model !== undefined && llmShare > 0 ? await askAll(st, graph, step, model) : { got: [], sentences: [] };
      const got = asked.got;
      let c = 0;
      let changed = 0;
      for (let i = 0; i < n; i++) {
        let a: number;
        if (st.llm[i]) {
          const u = rng.float();
          st.heard[i] = asked.sentences[c]!;
          const d = scoredDistribution(setup, got[c++]!.distribution);
          a = d === null ? prev[i]! : drawIndex(d, u);
        } else {
          const j = randomNeighbor(graph, i, rng);
          a = j < 0 ? prev[i]! : prev[j]!;
        }
        next[i] = a;
        if (a !== prev[i]) changed++;
      }
      st.answer = next;
      st.next = prev;
      st.changed = changed;
      return changed === 0;
    },
    metrics(st) {
      return opinionMetrics(setup, st);
    },
    agents(st) {
      return measuredAgents(setup, st.group, st.llm, (i) => st.heard[i]!);
    },
  };

  async function askAll(st: OpinionState, graph: Graph, step: number, model: SimModel): Promise<{ got: { readonly distribution: number[] }[]; sentences: string[] }> {
    const n = st.n;
    const prev = st.answer;
    const counts = new Int32Array(m);
    const implicit = graph.kind === "complete" && graph.neighbors.length === 0;
    const total = new Int32Array(m);
    if (implicit) for (let i = 0; i < n; i++) total[prev[i]!]!++;
    const calls: Promise<{ readonly distribution: number[] }>[] = [];
    const sentences: string[] = [];
    for (let i = 0; i < n; i++) {
      if (!st.llm[i]) continue;
      if (implicit) {
        counts.set(total);
        counts[prev[i]!]!--;
      } else {
        counts.fill(0);
        const nb = neighborsOf(graph, i);
        for (let k = 0; k < nb.length; k++) counts[prev[nb[k]!]!]!++;
      }
      const p = promptFor(st, st.group[i]!, counts);
      sentences.push(p.sentence);
      calls.push(model.optionDistribution({ prompt: p.prompt, plain: p.plain, labels, step: step + 1, agent: i }));
    }
    return { got: await Promise.all(calls), sentences };
  }
}

function uniformOver(m: number): Float64Array {
  return new Float64Array(m).fill(1 / m);
}

/** The metrics of an opinion state (see the module comment). */
export function opinionMetrics(setup: SurveySetup, st: Pick<OpinionState, "n" | "answer" | "changed">): Record<string, number> {
  const m = setup.scored.length;
  const counts = new Float64Array(m);
  for (let i = 0; i < st.n; i++) counts[st.answer[i]!]!++;
  const out: Record<string, number> = {};
  let clusters = 0;
  let consensus = 0;
  for (let k = 0; k < m; k++) {
    out[`share_${setup.scored[k]}`] = st.n > 0 ? counts[k]! / st.n : Number.NaN;
    if (counts[k]! >= 0.05 * st.n && counts[k]! > 0) clusters++;
    if (st.n > 0 && counts[k] === st.n) consensus = 1;
  }
  out.polarization = setup.positions === null ? Number.NaN : polarization(counts, setup.positions);
  out.bimodality = setup.positions === null ? Number.NaN : bimodalityCoefficient(counts, setup.positions);
  out.clusters = clusters;
  out.consensus = consensus;
  out.changed = st.changed;
  out.tv_population = setup.population === null || st.n === 0 ? Number.NaN : tvFromCounts(counts, st.n, setup.population);
  out.tv_overall = setup.reference === null || st.n === 0 ? Number.NaN : tvFromCounts(counts, st.n, setup.reference);
  return out;
}
