/**
 * `conformity`: Asch-style peer pressure on a survey or factual question (S. E. Asch, "Effects of
 * group pressure upon the modification and distortion of judgments", 1951; for LLMs, "LLMs Can't
 * Handle Peer Pressure", 2025). Not a graph dynamics: the graph only gives the number of agents
 * (its edges are ignored), and the run is one step (it reports convergence after it).
 *
 * Agents and personas are built as in `opinion` (groups of `attribute` in their real shares, each
 * with its steering persona; without `attribute` one group without persona, so every model-driven
 * agent asks the same prompts). Model-driven agents (a share `llm_share`, chosen at random):
 *
 * - init (step 0): the agent answers without pressure, with the prompt of `civitas eval --persona`
 *   (persona, standard question prompt). Its own answer is the model's most likely scored option
 *   (`answer: mode`, default; ties to the first in survey order) or one drawn from the distribution
 *   with the run's RNG (`answer: sample`). A distribution with no mass on a scored option counts as
 *   uniform.
 * - the peers' answer is the scored option other than its own that the model ranked lowest without
 *   pressure (`target: lowest`, default; ties to the first in survey order), or the scored option
 *   after its own in survey order, wrapping around (`target: next`).
 * - step 1: for k = 1 .. K (`max_peers`, default 5), all at once, it is told that k peers
 *   unanimously gave that answer and answers again (mode or sampled, as above; an answer with no
 *   mass on a scored option keeps its own). The prompt is opinion's, with the sentence
 *   "Of the people you talk to, <k> answered '<option>'.":
 *
 *       <persona>\n\nOf the people you talk to, 3 answered 'Not at all safe'.\n\nQuestion: ...\nA. ...\nAnswer:
 *
 * Rule-based agents draw their own answer from their group's human distribution (uniform without
 * one), take as the peers' answer the least common option of that distribution (or the next), and
 * conform when k >= `rule_threshold` (default 3: Asch found conformity to level off at about three
 * confederates).
 *
 * Metrics: `switch_rate_<k>` (k = 1 .. K): share of agents whose answer under k peers is the peers'
 * answer (it differs from their own by construction, so this is the share that moved to it), and
 * `switch_rate`, their mean over k (NaN before the step); `peer_mass_<k>` (k = 0 .. K): mean
 * probability the model gives the peers' answer with k peers (0: unpressured), over model-driven
 * agents (NaN without any); `consensus` and `clusters` of the own answers (as opinion defines
 * them); for a knowledge question (`Question.correct`), `correct_<k>`: share of agents whose answer
 * with k peers (0: their own) is correct.
 *
 * Measured (`measure:`, src/sim/measure.ts): before the step an agent's memory is empty; after it,
 * the last thing it read: "Of the people you talk to, K answered '<peers' answer>'.".
 *
 * Params: question, attribute (as opinion), max_peers, target (lowest | next), answer (mode |
 * sample), llm_share (default 1 with a model, else 0), rule_threshold.
 */
import { numberParam } from "../engine.js";
import type { Dynamics, DynamicsDeps, Params } from "../types.js";
import {
  askPersonas,
  groupsOf,
  measuredAgents,
  choiceParam,
  chooseModelAgents,
  drawIndex,
  llmShareParam,
  peersSentence,
  pressuredPrompts,
  type AgentPrompt,
  scoredDistribution,
  surveySetup,
  type SurveySetup,
} from "./opinion.js";

export interface ConformityState {
  readonly n: number;
  readonly group: Int32Array;
  readonly llm: Uint8Array;
  /** Own answer (scored index) of each agent. */
  readonly own: Int32Array;
  /** The peers' answer shown to each agent. */
  readonly peer: Int32Array;
  /** Answer of agent i under k peers at [i * K + k - 1]; -1 before the step. */
  readonly pressured: Int32Array;
  /** Model probability of the peers' answer for agent i with k peers at [i * (K + 1) + k]; NaN for rule-based agents. */
  readonly peerMass: Float64Array;
  done: boolean;
}

export interface ConformityDynamics extends Dynamics<ConformityState> {
  readonly setup: SurveySetup;
  readonly maxPeers: number;
}

export function createConformity(params: Params, deps: DynamicsDeps): ConformityDynamics {
  const setup = surveySetup("conformity", params, deps.suite, deps.population);
  const model = deps.model;
  const llmShare = llmShareParam("conformity", params, model);
  const K = numberParam(params, "max_peers", { default: 5, min: 1, max: 1000, integer: true });
  const target = choiceParam(params, "target", ["lowest", "next"] as const, "lowest");
  const answerBy = choiceParam(params, "answer", ["mode", "sample"] as const, "mode");
  const threshold = numberParam(params, "rule_threshold", { default: 3, min: 0 });
  const m = setup.scored.length;
  const labels = setup.labels;
  const uniform = new Float64Array(m).fill(1 / m);
  const correct = setup.question.correct === undefined ? -1 : setup.scored.indexOf(setup.question.correct);

  const argmax = (d: ArrayLike<number>): number => {
    let best = 0;
    for (let k = 1; k < d.length; k++) if (d[k]! > d[best]!) best = k;
    return best;
  };
  const choose = (d: ArrayLike<number>, u: number): number => (answerBy === "mode" ? argmax(d) : drawIndex(d, u));
  const peerOf = (d: ArrayLike<number>, own: number): number => {
    if (target === "next") return (own + 1) % m;
    let low = -1;
    for (let k = 0; k < m; k++) if (k !== own && (low < 0 || d[k]! < d[low]!)) low = k;
    return low;
  };
  const prompts = new Map<string, AgentPrompt>();
  const promptFor = (g: number, peer: number, k: number) => {
    const key = `${g}:${peer}:${k}`;
    let p = prompts.get(key);
    if (p === undefined) {
      const counts = new Int32Array(m);
      counts[peer] = k;
      p = pressuredPrompts(setup.groups[g]!, peersSentence(counts, setup.options));
      prompts.set(key, p);
    }
    return p;
  };

  return {
    name: "conformity",
    update: "synchronous",
    setup,
    maxPeers: K,
    async init({ graph, rng }) {
      const n = graph.n;
      const group = groupsOf(setup, n, rng);
      const llm = chooseModelAgents(n, llmShare, rng);
      const st: ConformityState = {
        n,
        group,
        llm,
        own: new Int32Array(n),
        peer: new Int32Array(n),
        pressured: new Int32Array(n * K).fill(-1),
        peerMass: new Float64Array(n * (K + 1)).fill(Number.NaN),
        done: false,
      };
      const got = model !== undefined ? await askPersonas(model, setup, group, llm, labels, 0) : [];
      for (let i = 0; i < n; i++) {
        const u = rng.float();
        if (llm[i]) {
          const d = got[i] ?? uniform;
          st.own[i] = choose(d, u);
          st.peer[i] = peerOf(d, st.own[i]!);
          st.peerMass[i * (K + 1)] = d[st.peer[i]!]!;
        } else {
          const h = setup.groups[group[i]!]!.human ?? uniform;
          st.own[i] = drawIndex(h, u);
          st.peer[i] = peerOf(h, st.own[i]!);
        }
      }
      return st;
    },
    async step(st, { rng, step }) {
      if (st.done) return true;
      const n = st.n;
      const calls: Promise<{ readonly distribution: number[] }>[] = [];
      if (model !== undefined) {
        for (let i = 0; i < n; i++) {
          if (!st.llm[i]) continue;
          for (let k = 1; k <= K; k++) {
            const p = promptFor(st.group[i]!, st.peer[i]!, k);
            calls.push(model.optionDistribution({ prompt: p.prompt, plain: p.plain, labels, step: step + 1, agent: i }));
          }
        }
      }
      const got = await Promise.all(calls);
      let c = 0;
      for (let i = 0; i < n; i++) {
        for (let k = 1; k <= K; k++) {
          let a: number;
          if (st.llm[i]) {
            const u = rng.float();
            const d = scoredDistribution(setup, got[c++]!.distribution);
            a = d === null ? st.own[i]! : choose(d, u);
            st.peerMass[i * (K + 1) + k] = d === null ? 0 : d[st.peer[i]!]!;
          } else {
            a = k >= threshold ? st.peer[i]! : st.own[i]!;
          }
          st.pressured[i * K + k - 1] = a;
        }
      }
      st.done = true;
      return true;
    },
    agents(st) {
      // after the step an agent has read, last, that K peers gave the peers' answer
      return measuredAgents(setup, st.group, st.llm, (i) => {
        if (!st.done) return "";
        const counts = new Int32Array(m);
        counts[st.peer[i]!] = K;
        return peersSentence(counts, setup.options);
      });
    },
    metrics(st) {
      const out: Record<string, number> = {};
      const n = st.n;
      let sum = 0;
      for (let k = 1; k <= K; k++) {
        let moved = 0;
        for (let i = 0; i < n; i++) if (st.pressured[i * K + k - 1] === st.peer[i]) moved++;
        const rate = st.done && n > 0 ? moved / n : Number.NaN;
        out[`switch_rate_${k}`] = rate;
        sum += rate;
      }
      out.switch_rate = sum / K;
      return { ...peerMetrics(st, m, K, correct), ...out };
    },
  };
}

/**
 * What conformity and pressure report alike (their states share these fields): `consensus` and
 * `clusters` of the agents' own answers (options held by >= 5% of the agents), `peer_mass_<k>` (the
 * model-driven agents' mean probability on the peers' answer under k peers; k = 0: alone), and,
 * when the question has a correct option, `correct_<k>` (share answering it under k peers).
 */
export function peerMetrics(
  st: { readonly n: number; readonly own: Int32Array; readonly llm: Uint8Array; readonly peerMass: Float64Array; readonly pressured: Int32Array; readonly done: boolean },
  m: number,
  K: number,
  correct: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  const n = st.n;
  const counts = new Float64Array(m);
  for (let i = 0; i < n; i++) counts[st.own[i]!]!++;
  let clusters = 0;
  let consensus = 0;
  for (let k = 0; k < m; k++) {
    if (counts[k]! > 0 && counts[k]! >= 0.05 * n) clusters++;
    if (n > 0 && counts[k] === n) consensus = 1;
  }
  out.consensus = consensus;
  out.clusters = clusters;
  for (let k = 0; k <= K; k++) {
    let s = 0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      if (!st.llm[i]) continue;
      s += st.peerMass[i * (K + 1) + k]!;
      c++;
    }
    out[`peer_mass_${k}`] = c > 0 && (k === 0 || st.done) ? s / c : Number.NaN;
  }
  if (correct >= 0) {
    let right = 0;
    for (let i = 0; i < n; i++) if (st.own[i] === correct) right++;
    out.correct_0 = n > 0 ? right / n : Number.NaN;
    for (let k = 1; k <= K; k++) {
      right = 0;
      for (let i = 0; i < n; i++) if (st.pressured[i * K + k - 1] === correct) right++;
      out[`correct_${k}`] = st.done && n > 0 ? right / n : Number.NaN;
    }
  }
  return out;
}
