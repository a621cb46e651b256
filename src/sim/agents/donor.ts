/**
 * `donor`: the donor game with reputations and cultural selection, after A. Vallinder and E.
 * Hughes, "Cultural Evolution of Cooperation among LLM Agents" (arXiv:2412.10270, 2024). One engine
 * step is one generation.
 *
 * A generation: every agent starts with `endowment` (default 10) resources and no reputation. It
 * plays `rounds` rounds (default 10). In a round every agent, as donor, meets a recipient drawn
 * uniformly among its graph neighbours (anyone on a complete graph; an agent without neighbours
 * sits the round out), sees the recipient's reputation (the share of its resources the recipient
 * gave in its last round, or that it has not played yet) and gives a share s of its resources; the
 * recipient receives `multiplier` (default 2) times the gift. All donors of a round decide from the
 * state at the start of the round, then the gifts are applied together (so resources stay >= 0),
 * and each donor's reputation becomes its share. After the last round the agents are ranked by
 * resources (ties broken by a seeded shuffle); the top half (ceil(n/2)) survive and each of the
 * others is replaced by a copy of a survivor (the best survivor's copy first, round robin): the
 * copy inherits its parent's kind (model-driven or rule-based) and strategy, so selection acts on
 * strategies, and on the share of model-driven agents in hybrid worlds. Then the next generation
 * starts (resources and reputations reset).
 *
 * Model-driven agents (a share `llm_share` at the start, chosen at random) hold one of
 * `DONOR_STRATEGIES` (drawn uniformly at the start) and are asked, with `complete` (temperature
 * `temperature`, default 1; up to `max_tokens`, default 4; a seed drawn from the run's RNG, so the
 * request is recorded and replayable):
 *
 *     You are playing a game with other people. In each round every player is paired with another
 *     player and decides what share of their resources to give them; the other player receives 2
 *     times what is given. Your goal is to have as many resources as possible at the end of the game.
 *     <strategy>\n\n
 *     You have 12.5 units of resources. The other player gave 40% of their resources in their last
 *     round. (or: The other player has not played a round yet.)\n
 *     What percentage of your resources do you give to the other player? Answer with a number from 0 to 100.\n
 *     Answer:
 *
 * (lines are not wrapped). The first number in
 * the completion, clamped to [0, 100], is the percentage; a completion without a number gives 0 and
 * is counted in `unparsed` (its text stays in the request cache).
 *
 * Rule-based agents (the fallback when there is no model) have a generosity g in [0, 1] (uniform at
 * the start) and give s = clamp(g * reputation + noise * (2u - 1), 0, 1), u uniform from the run's
 * RNG, `noise` default 0.05, an unknown reputation counting as 1: they give in proportion to what
 * the recipient gave. A copy's g is its parent's plus `mutation` * (2u - 1) (default 0.05), clamped.
 *
 * What is simplified from the paper: strategies are a fixed list of four, assigned at random and
 * inherited, instead of free text written by each model and rewritten from the survivors'
 * strategies every generation; a recipient's reputation is only its last donation share (the
 * paper shows a trace of its recent donations and of its recipients'); resources reset every
 * generation; there is no costly punishment variant; pairing is over the graph's neighbours.
 * `cooperation` (cooperation.ts) implements the paper's protocol; this scenario stays as it was,
 * so that its stored runs keep their meaning.
 *
 * Metrics (after each generation; step 0 is before the first): `cooperation` (mean share given
 * over all donations of the generation), `resources` (mean resources at its end, before
 * selection), `unparsed` (share of model decisions without a number), and of the next generation's
 * composition: `llm_share`, `strategy_<k>` (share of agents holding strategy k), `generosity` (mean
 * g of rule-based agents), `consensus` (1 when every agent holds the same strategy: one strategy
 * of the list, or only rule-based agents whose g lie within 0.01) and `clusters` (strategies held by
 * >= 5% of the agents, rule-based g grouped with gaps > 0.05 as opinion clusters). Never converges
 * before the step limit (`steps` = generations).
 */
import { numberParam, summarizeOpinions } from "../engine.js";
import { randomNeighbor } from "../graph.js";
import type { Dynamics, DynamicsDeps, Params } from "../types.js";
import { chooseModelAgents, llmShareParam } from "./opinion.js";

/** The strategies model-driven donors hold (a simplification of the paper's free-text strategies). */
export const DONOR_STRATEGIES: readonly string[] = [
  "Your strategy: be generous. Give freely, trusting that others will return the favour.",
  "Your strategy: reciprocate. Give about the share the other player gave in their last round.",
  "Your strategy: be cautious. Give a little, and more only to players who have given a lot.",
  "Your strategy: keep your resources. Give little or nothing.",
];

export interface DonorState {
  readonly n: number;
  /** 1 when the agent asks the model (inherited by copies). */
  readonly llm: Uint8Array;
  /** Index into DONOR_STRATEGIES of each model-driven agent (-1 for rule-based ones). */
  readonly strategy: Int32Array;
  /** Generosity of each rule-based agent (NaN for model-driven ones). */
  readonly generosity: Float64Array;
  readonly resources: Float64Array;
  /** Share given in the agent's last round of this generation; NaN before it played. */
  readonly reputation: Float64Array;
  generation: number;
  /** Of the last generation played (NaN before the first). */
  cooperation: number;
  meanResources: number;
  unparsed: number;
}

export interface DonorDynamics extends Dynamics<DonorState> {
  readonly rounds: number;
}

/** The percentage in a completion: the first number, clamped to [0, 100], as a share; null when there is none. */
export function parseShare(text: string): number | null {
  const m = /-?\d+(?:\.\d+)?/u.exec(text);
  if (m === null) return null;
  const v = Number(m[0]);
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v / 100)) : null;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

export function donorPrompt(multiplier: number, strategy: string | null, resources: number, reputation: number): string {
  // strategy null: the plain prompt a steered scenario decodes against (the strategy line left out)
  const rules =
    "You are playing a game with other people. In each round every player is paired with another player and decides what share of their resources to give them; " +
    `the other player receives ${multiplier} times what is given. Your goal is to have as many resources as possible at the end of the game.\n${strategy === null ? "" : `${strategy}\n`}\n`;
  const rep = Number.isNaN(reputation)
    ? "The other player has not played a round yet."
    : `The other player gave ${Math.round(100 * reputation)}% of their resources in their last round.`;
  return (
    `${rules}You have ${resources.toFixed(1)} units of resources. ${rep}\n` +
    "What percentage of your resources do you give to the other player? Answer with a number from 0 to 100.\nAnswer:"
  );
}

export function createDonor(params: Params, deps: DynamicsDeps): DonorDynamics {
  const model = deps.model;
  const llmShare = llmShareParam("donor", params, model);
  const rounds = numberParam(params, "rounds", { default: 10, min: 1, integer: true });
  const endowment = numberParam(params, "endowment", { default: 10, min: 0, exclusiveMin: true });
  const multiplier = numberParam(params, "multiplier", { default: 2, min: 0 });
  const noise = numberParam(params, "noise", { default: 0.05, min: 0, max: 1 });
  const mutation = numberParam(params, "mutation", { default: 0.05, min: 0, max: 1 });
  const temperature = numberParam(params, "temperature", { default: 1, min: 0 });
  const maxTokens = numberParam(params, "max_tokens", { default: 4, min: 1, integer: true });
  const S = DONOR_STRATEGIES.length;

  const reset = (st: DonorState): void => {
    st.resources.fill(endowment);
    st.reputation.fill(Number.NaN);
  };

  return {
    name: "donor",
    update: "synchronous",
    rounds,
    init({ graph, rng }) {
      const n = graph.n;
      const llm = chooseModelAgents(n, llmShare, rng);
      const strategy = new Int32Array(n).fill(-1);
      const generosity = new Float64Array(n).fill(Number.NaN);
      for (let i = 0; i < n; i++) {
        if (llm[i]) strategy[i] = rng.int(0, S - 1);
        else generosity[i] = rng.float();
      }
      const st: DonorState = {
        n,
        llm,
        strategy,
        generosity,
        resources: new Float64Array(n),
        reputation: new Float64Array(n),
        generation: 0,
        cooperation: Number.NaN,
        meanResources: endowment,
        unparsed: Number.NaN,
      };
      reset(st);
      return st;
    },
    async step(st, { graph, rng, step }) {
      const n = st.n;
      // The generation is played on copies: a step that fails (budget) leaves the state as it was.
      const resources = Float64Array.from(st.resources);
      const reputation = Float64Array.from(st.reputation);
      const recipient = new Int32Array(n);
      const u = new Float64Array(n);
      const seeds = new Int32Array(n);
      const share = new Float64Array(n);
      const delta = new Float64Array(n);
      let given = 0;
      let donations = 0;
      let asked = 0;
      let unparsed = 0;
      for (let r = 0; r < rounds; r++) {
        // every random choice of the round, in agent order, before any call
        for (let i = 0; i < n; i++) {
          recipient[i] = randomNeighbor(graph, i, rng);
          if (recipient[i]! < 0) continue;
          if (st.llm[i]) seeds[i] = rng.int(0, 2 ** 31 - 1);
          else u[i] = rng.float();
        }
        const calls: Promise<string>[] = [];
        if (model !== undefined) {
          for (let i = 0; i < n; i++) {
            const j = recipient[i]!;
            if (j < 0 || !st.llm[i]) continue;
            const p = donorPrompt(multiplier, DONOR_STRATEGIES[st.strategy[i]!]!, resources[i]!, reputation[j]!);
            const plain = donorPrompt(multiplier, null, resources[i]!, reputation[j]!);
            calls.push(model.complete({ prompt: p, plain, maxTokens, temperature, seed: seeds[i]!, step: step + 1, agent: i }));
          }
        }
        const texts = await Promise.all(calls);
        let c = 0;
        for (let i = 0; i < n; i++) {
          const j = recipient[i]!;
          if (j < 0) continue;
          let s: number;
          if (st.llm[i]) {
            const parsed = parseShare(texts[c++]!);
            asked++;
            if (parsed === null) unparsed++;
            s = parsed ?? 0;
          } else {
            const rep = reputation[j]!;
            s = clamp01(st.generosity[i]! * (Number.isNaN(rep) ? 1 : rep) + noise * (2 * u[i]! - 1));
          }
          share[i] = s;
        }
        delta.fill(0);
        for (let i = 0; i < n; i++) {
          const j = recipient[i]!;
          if (j < 0) continue;
          const amount = share[i]! * resources[i]!;
          delta[i]! -= amount;
          delta[j]! += multiplier * amount;
          given += share[i]!;
          donations++;
        }
        for (let i = 0; i < n; i++) {
          resources[i]! += delta[i]!;
          if (recipient[i]! >= 0) reputation[i] = share[i]!;
        }
      }
      let total = 0;
      for (let i = 0; i < n; i++) total += resources[i]!;
      st.cooperation = donations > 0 ? given / donations : Number.NaN;
      st.meanResources = n > 0 ? total / n : Number.NaN;
      st.unparsed = asked > 0 ? unparsed / asked : Number.NaN;
      select(st, resources, rng);
      reset(st);
      st.generation++;
      return false;
    },
    metrics(st) {
      const n = st.n;
      const out: Record<string, number> = {
        cooperation: st.cooperation,
        resources: st.meanResources,
        unparsed: st.unparsed,
      };
      const held = new Float64Array(S);
      const rule: number[] = [];
      for (let i = 0; i < n; i++) {
        if (st.llm[i]) held[st.strategy[i]!]!++;
        else rule.push(st.generosity[i]!);
      }
      out.llm_share = n > 0 ? (n - rule.length) / n : Number.NaN;
      let clusters = 0;
      let kinds = 0;
      for (let k = 0; k < S; k++) {
        out[`strategy_${k}`] = n > 0 ? held[k]! / n : Number.NaN;
        if (held[k]! > 0) kinds++;
        if (held[k]! > 0 && held[k]! >= 0.05 * n) clusters++;
      }
      let ruleSpread = 0;
      if (rule.length > 0) {
        const g = Float64Array.from(rule).sort();
        out.generosity = g.reduce((a, b) => a + b, 0) / g.length;
        const s = summarizeOpinions(g, 0.05, { minShare: (0.05 * n) / g.length, sorted: true });
        clusters += s.clusters;
        ruleSpread = s.spread;
      } else out.generosity = Number.NaN;
      out.consensus = n > 0 && ((kinds === 1 && rule.length === 0) || (kinds === 0 && ruleSpread <= 0.01)) ? 1 : 0;
      out.clusters = clusters;
      return out;
    },
  };

  function select(st: DonorState, resources: Float64Array, rng: { int(a: number, b: number): number; float(): number }): void {
    const n = st.n;
    if (n < 2) return;
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(0, i);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    order.sort((a, b) => resources[b]! - resources[a]!); // stable: ties keep the shuffled order
    const survivors = Math.ceil(n / 2);
    for (let r = survivors; r < n; r++) {
      const i = order[r]!;
      const parent = order[(r - survivors) % survivors]!;
      st.llm[i] = st.llm[parent]!;
      st.strategy[i] = st.strategy[parent]!;
      st.generosity[i] = st.llm[parent] ? Number.NaN : clamp01(st.generosity[parent]! + mutation * (2 * rng.float() - 1));
    }
  }
}
