/**
 * PAPI's individual level (Zhu et al. 2024): how close the model, told a person's answers to the
 * 120 profile items, comes to that person's answers on the 180 held-out items; for every person of
 * the run (`person=<case>` populations), then as the distribution of those per-person scores.
 *
 * Per person, over their held-out items they answered (0 = not answered is left out, where the
 * paper's code would count |answer - 0|) and the model answered, on the 1-5 answer scale:
 * - item distance: the mean of E|X - a| (X the model's answer under its distribution, a the
 *   person's): the paper's |answer - value| (`process_answers`, `mean_ver_abs`) in expectation over
 *   the model's answer; 4 x the Wasserstein alignment distance of the person's population.
 * - item distance (mode): the mean |mode - a|, the model's most likely answer standing for the
 *   paper's generated one (greedy decoding).
 * - domain error: the Big Five domain scores of the model and of the person over the same items,
 *   each the mean keyed answer (6 - answer where the key is -1, as `process_answers` keys them; the
 *   model's expected answer E[X] in place of its answer), then |model - person| averaged over the
 *   five domains.
 * Baselines per person: answering uniformly, and answering with the distribution of the other 299
 * people on the item (the population level's distribution, the person left out).
 * Over persons: mean with a percentile bootstrap interval over persons, standard deviation and
 * quantiles (the person-level distribution).
 */
import { bootstrapStatistic, quantileSorted } from "../metrics/index.js";
import type { PapiResult } from "../results/index.js";
import { BIG_FIVE, domainScores, keyed, papiDataOf, type Domain, type PapiData, type Population, type Question, type Suite } from "../surveys/index.js";

/** The model's distributions of a question when it answers as a persona ("none": unsteered), one per variant. */
export type PersonaDistributions = (q: Question, persona: string) => readonly (readonly number[])[] | undefined;

const VALUES = [5, 4, 3, 2, 1] as const;

export interface PersonScores {
  readonly person: string;
  /** Held-out items scored. */
  readonly n: number;
  readonly item_distance: number;
  readonly item_distance_mode: number;
  readonly domain_error: number;
  readonly model_domains: Record<Domain, number>;
  readonly person_domains: Record<Domain, number>;
  readonly uniform: { readonly item_distance: number; readonly domain_error: number };
  readonly population: { readonly item_distance: number; readonly domain_error: number };
}

/** Mean over the answer options (survey order 5..1) of the variants' distributions, renormalised; undefined if none has mass. */
function meanDistribution(dists: readonly (readonly number[])[] | undefined): number[] | undefined {
  if (!dists || dists.length === 0) return undefined;
  const m = VALUES.map((_, k) => dists.reduce((s, d) => s + (d[k] ?? 0), 0) / dists.length);
  const t = m.reduce((a, b) => a + b, 0);
  return t > 0 ? m.map((x) => x / t) : undefined;
}

const expected = (d: readonly number[]) => d.reduce((s, p, k) => s + p * VALUES[k]!, 0);
const expectedAbs = (d: readonly number[], a: number) => d.reduce((s, p, k) => s + p * Math.abs(VALUES[k]! - a), 0);
function mode(d: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < d.length; k++) if (d[k]! > d[best]!) best = k;
  return VALUES[best]!;
}
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

/** |model - person| averaged over the domains both have. */
function domainError(model: Record<Domain, number>, person: Record<Domain, number>): number {
  return mean(BIG_FIVE.filter((d) => !Number.isNaN(model[d]) && !Number.isNaN(person[d])).map((d) => Math.abs(model[d] - person[d])));
}

/**
 * One person's scores from the model's distribution on each held-out item (survey order: Very
 * Accurate = 5 first), or undefined when no held-out item could be scored.
 */
export function scorePerson(data: PapiData, personCase: number, model: (itemNumber: number) => readonly number[] | undefined): PersonScores | undefined {
  const person = data.people.find((p) => p.case === personCase);
  if (!person) return undefined;
  const byNumber = new Map(data.items.map((it) => [it.number, it]));
  const used: number[] = [];
  const dists = new Map<number, readonly number[]>();
  const item: number[] = [];
  const itemMode: number[] = [];
  const uni: number[] = [];
  const pop: number[] = [];
  const popDists = new Map<number, number[]>();
  const uniform = VALUES.map(() => 1 / VALUES.length);
  for (const n of data.test) {
    const a = person.answers[n - 1]!;
    const d = model(n);
    if (a === 0 || !d) continue;
    // The others' answers to the item (the person left out).
    const counts = VALUES.map((v) => data.people.reduce((s, p) => s + (p !== person && p.answers[n - 1] === v ? 1 : 0), 0));
    const total = counts.reduce((x, y) => x + y, 0);
    const others = total > 0 ? counts.map((c) => c / total) : uniform;
    used.push(n);
    dists.set(n, d);
    popDists.set(n, others);
    item.push(expectedAbs(d, a));
    itemMode.push(Math.abs(mode(d) - a));
    uni.push(expectedAbs(uniform, a));
    pop.push(expectedAbs(others, a));
  }
  if (used.length === 0) return undefined;
  const personDomains = domainScores(data.items, person.answers, used);
  const predicted = (dist: (n: number) => readonly number[]): Record<Domain, number> => {
    const sum: Record<Domain, number> = { O: 0, C: 0, E: 0, A: 0, N: 0 };
    const cnt: Record<Domain, number> = { O: 0, C: 0, E: 0, A: 0, N: 0 };
    for (const n of used) {
      const it = byNumber.get(n)!;
      sum[it.domain] += keyed(expected(dist(n)), it.key);
      cnt[it.domain]++;
    }
    const out = {} as Record<Domain, number>;
    for (const d of BIG_FIVE) out[d] = cnt[d] > 0 ? sum[d] / cnt[d] : Number.NaN;
    return out;
  };
  const modelDomains = predicted((n) => dists.get(n)!);
  return {
    person: `person=${personCase}`,
    n: used.length,
    item_distance: mean(item),
    item_distance_mode: mean(itemMode),
    domain_error: domainError(modelDomains, personDomains),
    model_domains: modelDomains,
    person_domains: personDomains,
    uniform: { item_distance: mean(uni), domain_error: domainError(predicted(() => uniform), personDomains) },
    population: { item_distance: mean(pop), domain_error: domainError(predicted((n) => popDists.get(n)!), personDomains) },
  };
}

/** Mean over persons with its bootstrap interval, standard deviation and quantiles. */
function overPersons(values: readonly number[], seed: number, resamples: number) {
  const v = values.filter((x) => !Number.isNaN(x));
  const [est] = bootstrapStatistic(v.length, (s) => [mean(Array.from(s, (i) => v[i]!))], { seed, resamples });
  const m = mean(v);
  const sd = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1)) : Number.NaN;
  const sorted = Float64Array.from(v).sort();
  const q = (p: number) => quantileSorted(sorted, p);
  return { mean: est!.mean, ci: est!.ci, sd, quantiles: { p10: q(0.1), p25: q(0.25), p50: q(0.5), p75: q(0.75), p90: q(0.9) } };
}

function summarise(people: readonly PersonScores[], seed: number, resamples: number) {
  return {
    item_distance: overPersons(people.map((p) => p.item_distance), seed, resamples),
    item_distance_mode: overPersons(people.map((p) => p.item_distance_mode), seed, resamples),
    domain_error: overPersons(people.map((p) => p.domain_error), seed, resamples),
  };
}

/**
 * The individual-level scores of a run on the papi suite: per person population of the run, with
 * the model's answers as that person's persona when the run steers (`personas`), else unsteered.
 */
export function papiScores(
  suite: Suite,
  populations: readonly Population[],
  model: PersonaDistributions,
  personas: ReadonlyMap<string, { readonly id: string }>,
  seed: number,
  resamples: number,
): PapiResult | undefined {
  const data = papiDataOf(suite);
  if (!data) return undefined;
  const questions = new Map(suite.questions.map((q) => [q.id, q]));
  const persons = populations.filter((p) => p.attribute === "person");
  if (persons.length === 0) return undefined;
  const steered = personas.size > 0;
  const scoreAll = (steer: boolean) =>
    persons.flatMap((p) => {
      const persona = steer ? personas.get(p.id)?.id ?? "none" : "none";
      const s = scorePerson(data, Number(p.value), (n) => meanDistribution(model(questions.get(`i${n}`)!, persona)));
      return s ? [s] : [];
    });
  const people = scoreAll(steered);
  if (people.length === 0) return undefined;
  const unsteered = steered ? scoreAll(false) : [];
  return {
    persons: people.length,
    steered,
    scale: "answers 1-5: distances 0-4",
    ...summarise(people, seed, resamples),
    domains: BIG_FIVE.map((d) => ({
      domain: d,
      domain_error: overPersons(people.map((p) => Math.abs(p.model_domains[d] - p.person_domains[d])), seed, resamples),
    })),
    ...(unsteered.length > 0 ? { unsteered: summarise(unsteered, seed, resamples) } : {}),
    baselines: {
      uniform: { item_distance: mean(people.map((p) => p.uniform.item_distance)), domain_error: mean(people.map((p) => p.uniform.domain_error)) },
      population: { item_distance: mean(people.map((p) => p.population.item_distance)), domain_error: mean(people.map((p) => p.population.domain_error)) },
    },
    people: people.map((p) => ({
      person: p.person,
      n: p.n,
      item_distance: p.item_distance,
      item_distance_mode: p.item_distance_mode,
      domain_error: p.domain_error,
      model_domains: p.model_domains,
      person_domains: p.person_domains,
    })),
  };
}
