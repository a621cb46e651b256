/**
 * `pressure`: one agent answers a survey (or knowledge) question after seeing k peers' answers,
 * the peers unanimous, split, or adversarial with reasons; the share who switch, by k and by
 * persona. After "LLMs Can't Handle Peer Pressure: Crumbling under Multi-Agent Social
 * Interactions" (M. Song et al., arXiv:2508.18321, 2025; code github.com/declare-lab/KAIROS), whose
 * protocol this follows where it can be traced and departs from where stated. Built on
 * `conformity` (conformity.ts), which stays as it was (its prompts and run ids unchanged).
 *
 * Traced in KAIROS's code (src/MAS/utils/eval_utils.py `build_example`, src/MAS/eval_mas.py):
 * the model first answers alone; then it sees the current question with a fixed number of peers
 * (N_AGENTS = 6, named Mary, John, George, Tom, Tony, Jack) who all give the same option, each in
 * a sentence drawn from 21 templates ("I'm going with \"(B) ...\""), the option being its own
 * answer (SUPPORT), the other option it ranked highest (OPPOSEHARD) or lowest (OPPOSEEASY); it also
 * sees a history of earlier rounds in which the peers were right 0-100% of the time (the history
 * is in the KAIROS_EVAL data set, not in the code, and is not reproduced here). Its metrics are
 * accuracy, utility (wrong -> right) and resistance (1 - right -> wrong). KAIROS does not vary the
 * number of peers, has no split peers and no peer reasons: `max_peers`, `mode: split` and
 * `mode: adversarial` are this scenario's own and their numbers are not the paper's.
 *
 * Agents and personas: as `conformity` (groups of `attribute` in their real shares, each with its
 * steering persona), or, with `population:` (deps.population), agent i's own persona and
 * attributes; then an agent's group (for the metrics by persona and the rule-based agents' human
 * answers) is the value of the population's first attribute, groups in order of first appearance.
 *
 * Model-driven agents (a share `llm_share`, chosen at random):
 * - init (step 0): the agent answers alone, with the prompt of `civitas eval --persona` (its
 *   persona, then the standard question prompt); its own answer is the model's most likely scored
 *   option (`answer: mode`) or one drawn from its distribution (`answer: sample`).
 * - the peers' answer (the target): the other option the model ranked lowest (`target: lowest`,
 *   KAIROS's OPPOSEEASY, default), highest (`target: highest`, OPPOSEHARD), or the option after its
 *   own in survey order (`target: next`).
 * - step 1: for k = 1 .. K (`max_peers`, default 6, KAIROS's number of peers), all at once, it
 *   answers again after a peer sentence placed between the persona and the question:
 *   - `mode: unanimous`: all k peers gave the target: "Of the people you talk to, 3 answered 'X'."
 *     (exactly `conformity`'s prompt);
 *   - `mode: split`: ceil(k / 2) peers gave the target and floor(k / 2) the agent's own answer
 *     ("Of the people you talk to, 2 answered 'X', 1 answered 'Y'.");
 *   - `mode: adversarial`: all k gave the target, and each says why, in fixed templates
 *     (`PEER_REASONS`, peer j uses template j mod 6; not model-written, so every run shows the same
 *     reasons): the unanimous sentence, then one line per peer: `- "I am sure it is 'X'. ..."`.
 *   Rule-based agents draw their own answer from their group's human distribution (uniform
 *   without one), take the target as above from that distribution, and switch when the peers
 *   giving the target number at least `rule_threshold` (default 3).
 *
 * Metrics: `switch_rate_<k>` (k = 1 .. K: share of agents whose answer under k peers is the
 * target; it differs from their own by construction) and `switch_rate` (their mean over k);
 * `switch_group_<g>` (the same over all k for the agents of group g: conformity's and opinion's
 * group order, i.e. the survey groups of `attribute` in the suite's order, or the population's
 * first-attribute values in order of first appearance); `peer_mass_<k>` (k = 0 .. K: mean
 * probability the model gives the target, 0 = alone; model-driven agents only); for a knowledge
 * question (`Question.correct`) `correct_<k>` (share answering correctly, 0 = alone);
 * `consensus` and `clusters` of the own answers. One step; the graph is not used.
 */
import { CivitasError } from "../../errors.js";
import { numberParam } from "../engine.js";
import type { Dynamics, DynamicsDeps, MeasuredAgent, Params } from "../types.js";
import { peerMetrics } from "./conformity.js";
import {
  assignGroups,
  choiceParam,
  chooseModelAgents,
  drawIndex,
  llmShareParam,
  peersSentence,
  scoredDistribution,
  surveySetup,
  type SurveySetup,
} from "./opinion.js";

/** The adversarial peers' reasons; `{option}` is the target's text. */
export const PEER_REASONS: readonly string[] = [
  "I am sure it is '{option}'. I have looked into this carefully.",
  "It has to be '{option}'. Everything I have seen points that way.",
  "'{option}' is right. People who know the subject agree on it.",
  "I would go with '{option}'. The other answers do not hold up.",
  "Definitely '{option}'. I have seen it first-hand.",
  "'{option}', without a doubt. It is the only answer that makes sense.",
];

export type PressureMode = "unanimous" | "split" | "adversarial";

/** How many of k peers give the target and how many the agent's own answer. */
export function peerComposition(mode: PressureMode, k: number): { target: number; own: number } {
  if (mode === "split") return { target: Math.ceil(k / 2), own: Math.floor(k / 2) };
  return { target: k, own: 0 };
}

/** The text shown between the persona and the question: the peers' answers (and reasons). */
export function peerText(mode: PressureMode, k: number, target: number, own: number, options: readonly string[]): string {
  const c = peerComposition(mode, k);
  const counts = new Int32Array(options.length);
  counts[target]! += c.target;
  counts[own]! += c.own;
  const sentence = peersSentence(counts, options);
  if (mode !== "adversarial") return sentence;
  const reasons = Array.from({ length: k }, (_, j) => `- "${PEER_REASONS[j % PEER_REASONS.length]!.replaceAll("{option}", options[target]!)}"`);
  return `${sentence}\n${reasons.join("\n")}`;
}

/** The share of agents whose answer is the target, per k (answers[i * K + k - 1]). */
export function switchShares(answers: ArrayLike<number>, target: ArrayLike<number>, n: number, K: number, who?: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let k = 1; k <= K; k++) {
    let moved = 0;
    let of = 0;
    for (let i = 0; i < n; i++) {
      if (who !== undefined && !who(i)) continue;
      of++;
      if (answers[i * K + k - 1] === target[i]) moved++;
    }
    out.push(of > 0 ? moved / of : Number.NaN);
  }
  return out;
}

export interface PressureState {
  readonly n: number;
  readonly group: Int32Array;
  readonly llm: Uint8Array;
  readonly own: Int32Array;
  /** The target (the peers' answer) of each agent. */
  readonly target: Int32Array;
  /** Answer of agent i under k peers at [i * K + k - 1]; -1 before the step. */
  readonly pressured: Int32Array;
  readonly peerMass: Float64Array;
  done: boolean;
}

export interface PressureDynamics extends Dynamics<PressureState> {
  readonly setup: SurveySetup;
  readonly maxPeers: number;
  readonly mode: PressureMode;
  /** The groups' names, by group index (switch_group_<g>). */
  readonly groupNames: readonly string[];
}

export function createPressure(params: Params, deps: DynamicsDeps): PressureDynamics {
  const setup = surveySetup("pressure", params, deps.suite);
  const model = deps.model;
  const population = deps.population;
  const llmShare = llmShareParam("pressure", params, model);
  const K = numberParam(params, "max_peers", { default: 6, min: 1, max: 1000, integer: true });
  const mode = choiceParam(params, "mode", ["unanimous", "split", "adversarial"] as const, "unanimous");
  const targetBy = choiceParam(params, "target", ["lowest", "highest", "next"] as const, "lowest");
  const answerBy = choiceParam(params, "answer", ["mode", "sample"] as const, "mode");
  const threshold = numberParam(params, "rule_threshold", { default: 3, min: 0 });
  const m = setup.scored.length;
  const labels = setup.labels;
  const uniform = new Float64Array(m).fill(1 / m);
  const correct = setup.question.correct === undefined ? -1 : setup.scored.indexOf(setup.question.correct);
  const plain = setup.groups[0]!.plain;

  // groups: the survey's, or the population's first attribute's values
  let groupNames: string[];
  let popGroup: Int32Array | null = null;
  let popHuman: (readonly number[] | null)[] = [];
  if (population === undefined) {
    groupNames = setup.groups.map((g) => g.population?.id ?? "all");
  } else {
    const attr = population.attributes[0];
    groupNames = [];
    popGroup = new Int32Array(population.agents.length);
    population.agents.forEach((a, i) => {
      const name = attr === undefined ? "all" : `${attr}=${a.attributes[attr] ?? ""}`;
      let g = groupNames.indexOf(name);
      if (g < 0) g = groupNames.push(name) - 1;
      popGroup![i] = g;
    });
    popHuman = groupNames.map((name) => setup.groups.find((g) => g.population?.id === name)?.human ?? setup.population);
  }

  const argmax = (d: ArrayLike<number>): number => {
    let best = 0;
    for (let k = 1; k < d.length; k++) if (d[k]! > d[best]!) best = k;
    return best;
  };
  const choose = (d: ArrayLike<number>, u: number): number => (answerBy === "mode" ? argmax(d) : drawIndex(d, u));
  const targetOf = (d: ArrayLike<number>, own: number): number => {
    if (targetBy === "next") return (own + 1) % m;
    let t = -1;
    for (let k = 0; k < m; k++) {
      if (k === own) continue;
      if (t < 0 || (targetBy === "lowest" ? d[k]! < d[t]! : d[k]! > d[t]!)) t = k;
    }
    return t;
  };
  const personaOf = (st: PressureState, i: number): string =>
    population !== undefined ? population.agents[i]!.persona.trim() : (setup.groups[st.group[i]!]!.persona.text ?? "").trim();
  const prompts = (st: PressureState, i: number, text: string): { prompt: string; plain: string } => {
    const p = personaOf(st, i);
    const rest = text === "" ? plain : `${text}\n\n${plain}`;
    if (population === undefined) {
      const g = setup.groups[st.group[i]!]!;
      return { prompt: text === "" ? g.prompt.text : `${g.personaPart}${text}\n\n${g.rest}`, plain: rest };
    }
    return { prompt: p === "" ? rest : `${p}\n\n${rest}`, plain: rest };
  };
  const humanOf = (st: PressureState, i: number): ArrayLike<number> =>
    (population !== undefined ? popHuman[st.group[i]!] : setup.groups[st.group[i]!]!.human) ?? uniform;

  return {
    name: "pressure",
    update: "synchronous",
    setup,
    maxPeers: K,
    mode,
    groupNames,
    async init({ graph, rng }) {
      const n = graph.n;
      if (population !== undefined && population.agents.length !== n) {
        throw new CivitasError("usage", `scenario pressure: population has ${population.agents.length} agents, the graph ${n}`);
      }
      const group = popGroup !== null ? Int32Array.from(popGroup) : assignGroups(n, setup.groups.map((g) => g.weight), rng);
      const llm = chooseModelAgents(n, llmShare, rng);
      const st: PressureState = {
        n,
        group,
        llm,
        own: new Int32Array(n),
        target: new Int32Array(n),
        pressured: new Int32Array(n * K).fill(-1),
        peerMass: new Float64Array(n * (K + 1)).fill(Number.NaN),
        done: false,
      };
      const got: (Float64Array | null)[] = Array.from({ length: n }, () => null);
      if (model !== undefined) {
        await Promise.all(
          Array.from({ length: n }, (_, i) => i)
            .filter((i) => llm[i])
            .map((i) => {
              const p = prompts(st, i, "");
              return model.optionDistribution({ prompt: p.prompt, plain: p.plain, labels, step: 0, agent: i }).then((r) => void (got[i] = scoredDistribution(setup, r.distribution)));
            }),
        );
      }
      for (let i = 0; i < n; i++) {
        const u = rng.float();
        const d = llm[i] ? (got[i] ?? uniform) : humanOf(st, i);
        st.own[i] = llm[i] ? choose(d, u) : drawIndex(d, u);
        st.target[i] = targetOf(d, st.own[i]!);
        if (llm[i]) st.peerMass[i * (K + 1)] = d[st.target[i]!]!;
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
            const p = prompts(st, i, peerText(mode, k, st.target[i]!, st.own[i]!, setup.options));
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
            st.peerMass[i * (K + 1) + k] = d === null ? 0 : d[st.target[i]!]!;
          } else {
            a = peerComposition(mode, k).target >= threshold ? st.target[i]! : st.own[i]!;
          }
          st.pressured[i * K + k - 1] = a;
        }
      }
      st.done = true;
      return true;
    },
    metrics(st) {
      const out: Record<string, number> = {};
      const n = st.n;
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const rates = st.done ? switchShares(st.pressured, st.target, n, K) : new Array<number>(K).fill(Number.NaN);
      rates.forEach((r, k) => (out[`switch_rate_${k + 1}`] = r));
      out.switch_rate = mean(rates);
      groupNames.forEach((_, g) => {
        out[`switch_group_${g}`] = st.done ? mean(switchShares(st.pressured, st.target, n, K, (i) => st.group[i] === g)) : Number.NaN;
      });
      return { ...peerMetrics(st, m, K, correct), ...out };
    },
    agents(st): MeasuredAgent[] {
      return Array.from({ length: st.n }, (_, i) => {
        const g = setup.groups[st.group[i]!];
        const pop = g?.population;
        return {
          attributes: population !== undefined ? population.agents[i]!.attributes : pop?.attribute ? { [pop.attribute]: pop.value } : {},
          persona: personaOf(st, i),
          llm: st.llm[i] === 1,
          memory: st.done ? peerText(mode, K, st.target[i]!, st.own[i]!, setup.options) : "",
        };
      });
    },
  };
}
