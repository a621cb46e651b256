/**
 * `cooperation`: the donor game over generations with strategies the agents write, as in A.
 * Vallinder and E. Hughes, "Cultural Evolution of Cooperation among LLM Agents" (arXiv:2412.10270,
 * 2024), following the authors' code (github.com/aronvallinder/llm-donor-game,
 * Donor_Game_with_Cultural_Evolution.ipynb: `generate_strategy`, `bipartiteRoundRobin`,
 * `extendRounds`, `donorGame`, `handle_pairing_thread_safe`, `donorPrompt`, `selectTopAgents`,
 * `runGenerations`). One engine step is one generation. `donor` (donor.ts) stays as it was: the
 * simplified game with fixed strategies, whose stored runs keep their meaning.
 *
 * A generation (step s, generation g = s + 1):
 *
 * 1. Strategies. Every agent born this generation writes its strategy (in generation 1 all of
 *    them; later the half that replaced the dropped agents). A model-driven agent is asked, with
 *    `complete` (temperature `temperature`, up to `strategy_tokens` tokens, a seed drawn from the
 *    run's RNG in agent order), the paper's system prompt (`systemPrompt`: the game's rules; the
 *    punishment sentence when `punishment: true`) followed by its strategy prompt
 *    (`strategyPrompt`): in generation 1 "Based on the description of the game, create a
 *    strategy ...", later "Here is the advice of the best-performing 50% of the previous
 *    generation ... Modify this advice to create your own strategy." with the survivors'
 *    strategies, best first. Its strategy is the completion from "My strategy will be" on (the
 *    whole completion when the phrase is missing), as the paper's `parse_strategy_output`.
 *    A rule-based agent's strategy is three numbers (below) and its text says them
 *    (`ruleStrategyText`), so a model-driven agent of a later generation reads it like any other.
 * 2. Games. The agents are shuffled (seeded) and split into halves A and B; the schedule is the
 *    paper's bipartite round robin: in round i < n/2 agent A[j] meets B[(j - i) mod n/2], A donating
 *    in even rounds and B in odd ones; rounds n/2 .. n - 1 repeat them with the roles swapped
 *    (`extendRounds`), so by default (`rounds` = n) everyone meets everyone of the other half as
 *    donor and as recipient. `rounds` other than n takes the schedule's first rounds, or cycles it.
 *    The generation plays `games` games (default 2, as the paper): every game starts with
 *    `endowment` (10) units each and no history, and game 2 plays the same rounds with every pair's
 *    roles swapped. In a round each donor sees (`donationPrompt`) its recipient's resources and
 *    the recipient's trace: what the recipient did in its last round as donor, what that round's
 *    recipient had done in its own last round before, and so on, at most three entries, most recent
 *    first ("In round 3, 1_4 donated 40.00% of their resources to 1_7. In round 2, ..."; at the start
 *    "1_7 did not have any previous interactions."). It answers "Answer: x", x the units it gives up
 *    (0 <= x <= its resources); with `punishment: true` "Answer: Donate, x" or "Answer: Punish, x".
 *    Donating x: the donor loses x, the recipient gains `multiplier` (2) x. Punishing with x: the
 *    donor loses x and the recipient `punishment_loss` (2) x, floored at 0 (the paper's 1:2 cost to
 *    fine). All donors of a round decide from the state at its start (each agent is in one pair a
 *    round, so this is the paper's order), then the actions are applied in pair order. The donor's
 *    new trace is the recipient's trace followed by its own action.
 * 3. Selection. Each agent's score is its final resources summed over the games; the agents are
 *    ranked by score (ties in the shuffled order); the top half survive, keep their strategies and
 *    play on; the bottom half are replaced by new agents (named `<generation>_<slot>`), who write
 *    their strategies at the start of the next generation from the survivors' ones.
 *
 * A decision without "Answer:", or without a number (or without Donate/Punish and a number when
 * punishing), or with more units than the donor has, changes nothing and is counted in `unparsed`
 * (the paper asks again, up to 10 times, then donates 0; here one completion per decision, so the
 * record replays one call per decision). The share given is x / resources (0 when the donor has
 * nothing); punishing and a decision that changes nothing give 0.
 *
 * Rule-based agents (a share 1 - `llm_share` of the slots, fixed for the run) hold a strategy
 * (give, threshold, punish) in [0, 1]^3: to a recipient with no history, or whose last action gave
 * at least `threshold` of its resources, they give `give` of their resources; to anyone else they
 * spend `punish` of their resources punishing (with `punishment: true`) or give nothing. Generation 1
 * draws the three uniformly; a new rule-based agent copies a rule-based survivor (the best first,
 * round robin) with each number moved by `mutation` x (2u - 1) and clamped, or draws afresh when no
 * rule-based agent survived.
 *
 * With `population:` (deps.population) agent i's persona paragraph starts each of its prompts; a
 * slot keeps its persona across generations (the new agent stands for the same person).
 *
 * Metrics (after each generation; step 0 is before the first): `donation` (mean share given over
 * all decisions of the generation: the paper's headline), `resources` (mean final resources per
 * game, averaged over the games: the paper's "average final resources"), `punish_rate` (share of
 * decisions that punish), `unparsed` (share of model decisions that changed nothing; NaN without
 * any), `strategy_words` (mean words of the model-written strategies in play), `llm_share`, and
 * `consensus` / `clusters` of the agents' mean share given (gaps > 0.05 split clusters of >= 5% of
 * the agents; consensus when they all lie within 0.01). Never converges before `steps`.
 */
import { CivitasError } from "../../errors.js";
import type { Rng } from "../../metrics/index.js";
import { numberParam, summarizeOpinions } from "../engine.js";
import type { Dynamics, DynamicsDeps, MeasuredAgent, Params } from "../types.js";
import { chooseModelAgents, llmShareParam } from "./opinion.js";

/** What a donor did in a round (what the next donors see of it). */
export interface CoopAction {
  readonly kind: "donate" | "punish" | "none";
  /** Units given up (0 for none). */
  readonly units: number;
}

export interface CooperationState {
  readonly n: number;
  /** 1 when the slot's agent asks the model (fixed per slot). */
  readonly llm: Uint8Array;
  /** Generation each slot's current agent was born in (1-based). */
  readonly born: Int32Array;
  /** Each agent's strategy ("" until written). */
  readonly strategy: string[];
  /** The reasoning before "My strategy will be" (model-driven agents). */
  readonly justification: string[];
  /** Rule-based strategies (NaN for model-driven agents). */
  readonly give: Float64Array;
  readonly threshold: Float64Array;
  readonly punish: Float64Array;
  /** 1 when the slot's agent has yet to write its strategy. */
  readonly fresh: Uint8Array;
  /** Score (final resources summed over the games) of the last generation played. */
  readonly score: Float64Array;
  /** Mean share each agent gave in the last generation (NaN if it never donated). */
  readonly meanShare: Float64Array;
  /** The survivors' strategies, best first, handed to the next generation's new agents. */
  inherited: string[];
  generation: number;
  donation: number;
  resources: number;
  punishRate: number;
  unparsed: number;
}

export interface CooperationDynamics extends Dynamics<CooperationState> {
  readonly punishment: boolean;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/** A number as the prompts show it: an integer as is, else rounded to 2 decimals. */
export function fmtUnits(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
}

export const agentName = (born: number, slot: number): string => `${born}_${slot + 1}`;

/**
 * The pairing of round r (0-based) of a game: [donor, recipient] per pair, from agents in shuffled
 * order `order` (length n, even). The paper's bipartite round robin and its reversal (n rounds),
 * cycled; `swap` reverses every pair's roles (game 2).
 */
export function roundPairs(order: ArrayLike<number>, r: number, swap: boolean): [number, number][] {
  const n = order.length;
  const h = n / 2;
  const rr = r % n;
  const i = rr % h;
  let aDonates = i % 2 === 0;
  if (rr >= h) aDonates = !aDonates;
  if (swap) aDonates = !aDonates;
  const out: [number, number][] = [];
  for (let j = 0; j < h; j++) {
    const a = order[j]!;
    const b = order[h + ((((j - i) % h) + h) % h)]!;
    out.push(aDonates ? [a, b] : [b, a]);
  }
  return out;
}

/**
 * Applies one action to the resources (in place): donating x moves x from the donor and gives the
 * recipient multiplier x; punishing costs the donor x and the recipient loss x, floored at 0.
 * An action the donor cannot afford (x < 0 or x > its resources) changes nothing: returns false.
 */
export function applyAction(resources: Float64Array, donor: number, recipient: number, action: CoopAction, multiplier: number, loss: number): boolean {
  const x = action.units;
  if (action.kind === "none" || !(x >= 0) || x > resources[donor]!) return false;
  resources[donor]! -= x;
  if (action.kind === "donate") resources[recipient]! += multiplier * x;
  else resources[recipient] = Math.max(0, resources[recipient]! - loss * x);
  return true;
}

/** The sentence a trace gains from an action (the paper's wording; "" for one that changed nothing). */
export function actionSentence(round: number, donor: string, recipient: string, action: CoopAction, shareGiven: number, loss: number): string {
  if (action.kind === "donate") return `In round ${round}, ${donor} donated ${(shareGiven * 100).toFixed(2)}% of their resources to ${recipient}.`;
  if (action.kind === "punish") {
    return `In round ${round}, ${donor} punished ${recipient} by spending ${fmtUnits(action.units)} units to take away ${fmtUnits(loss * action.units)} units from their resources.`;
  }
  return "";
}

/** What a donor sees of a trace: its last three entries, most recent first (`get_last_three_reversed`). */
export function traceText(trace: readonly string[]): string {
  return trace.slice(-3).reverse().join(" ");
}

/** The "Selection" step: agents ranked by score, ties in `order`; returns [survivors best first, dropped best first]. */
export function rankAgents(score: ArrayLike<number>, order: ArrayLike<number>): { survivors: number[]; dropped: number[] } {
  const ranked = Array.from(order).sort((a, b) => score[b]! - score[a]!); // stable: ties keep `order`
  const keep = Math.floor(ranked.length / 2);
  return { survivors: ranked.slice(0, keep), dropped: ranked.slice(keep) };
}

/** A rule-based decision: give to the good (no history, or gave >= threshold last), else punish or nothing. */
export function ruleAction(
  give: number,
  threshold: number,
  punish: number,
  resources: number,
  last: { readonly kind: "donate" | "punish" | "none" | "start"; readonly share: number },
  punishment: boolean,
): CoopAction {
  const good = last.kind === "start" || (last.kind === "donate" && last.share >= threshold);
  if (good) return { kind: "donate", units: give * resources };
  if (punishment && punish > 0) return { kind: "punish", units: punish * resources };
  return { kind: "donate", units: 0 };
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;

/** A rule-based agent's strategy in words, as its successors read it. */
export function ruleStrategyText(give: number, threshold: number, punish: number, punishment: boolean): string {
  const rest = punishment && Math.round(punish * 100) > 0 ? `to punish anyone else by spending ${pct(punish)} of my resources` : "to give nothing to anyone else";
  return (
    `My strategy will be to give ${pct(give)} of my resources to a recipient who has not played yet or who gave at least ` +
    `${pct(threshold)} of their resources in their last round, and ${rest}.`
  );
}

/** The paper's `parse_strategy_output`: [justification, strategy]. */
export function parseStrategy(text: string): [string, string] {
  const key = "My strategy will be";
  const at = text.indexOf(key);
  if (at < 0) return ["", text.trim()];
  const rest = text.slice(at + key.length).trim();
  return [text.slice(0, at).trim(), rest === "" ? key : `${key} ${rest}`];
}

/**
 * A model's decision: the text after the first "Answer:"; without punishment a leading number,
 * with it "Donate, x" or "Punish, x" (the paper's regular expressions). null when there is none.
 */
export function parseDecision(text: string, punishment: boolean): CoopAction | null {
  const at = text.indexOf("Answer:");
  if (at < 0) return null;
  const answer = text.slice(at + "Answer:".length).trim();
  if (!punishment) {
    const m = /^\s*(\d+(?:\.\d+)?)/u.exec(answer);
    return m === null ? null : { kind: "donate", units: Number(m[1]) };
  }
  const m = /(donate|punish).*?(\d+(?:[.,]\d+)?)/iu.exec(answer);
  if (m === null) return null;
  return { kind: m[1]!.toLowerCase() === "punish" ? "punish" : "donate", units: Number(m[2]!.replace(",", ".")) };
}

const INFO =
  "As a donor, you will receive limited information about the recipient and their recent interactions:" +
  "You will see what the recipient (let's call them A) did in the immediately preceding round only." +
  "You will also see what A's partner from that round (let's call them B) did in their preceding round." +
  "This chain continues for at most three rounds back." +
  "Important: You do NOT have access to multiple rounds of information about A directly. You only know what A did in the single most recent round." +
  "Example (assuming it's now round 4):" +
  "You are paired with A." +
  "You know: In round 3, A donated X% to B." +
  "You also know: In round 2, B donated Y% to C." +
  "And finally: In round 1, C donated Z% to D." +
  "Remember: This is all the information you have. You don't know what A did in rounds 1 or 2, only in round 3.";

export interface GameRules {
  readonly endowment: number;
  readonly multiplier: number;
  readonly punishment: boolean;
  readonly loss: number;
}

/** The paper's system prompt (its lines without the notebook's indentation). */
export function systemPrompt(rules: GameRules): string {
  const pun = rules.punishment
    ? `You may also choose to punish the recipient by spending x units to take away ${fmtUnits(rules.loss)}x units from them. Bear in mind that others may punish you too.`
    : "";
  return [
    "You are a game-playing agent. Your assistance will help understand multi-agent interactions.",
    `You are playing the following game. Each player is given an initial endowment of ${fmtUnits(rules.endowment)} units of a resource.`,
    "In each round, you are randomly paired with another individual.",
    "One of you is a donor, and the other is a recipient. The donor decides to give up some amount of the resource (between 0 and the total number of units they possess).",
    `The recipient receives ${fmtUnits(rules.multiplier)}x the number of units that the donor gave up.`,
    "If you were a donor in one round, you will be a recipient in the next round, and vice versa.",
    "As a donor, you will receive limited information about the recipient and their recent interactions:",
    "You will see what the recipient (let's call them A) did in the immediately preceding round only.",
    "You will also see what A's partner from that round (let's call them B) did in their preceding round.",
    "This chain continues for at most three rounds back.",
    "Important: You do NOT have access to multiple rounds of information about A directly. You only know what A did in the single most recent round.",
    "Example (assuming it's now round 4):",
    "You are paired with A.",
    "You know: In round 3, A donated X% to B.",
    "You also know: In round 2, B donated Y% to C.",
    "And finally: In round 1, C donated Z% to D.",
    "Remember: This is all the information you have. You don't know what A did in rounds 1 or 2, only in round 3.",
    pun,
    "Your goal is to maximize the number of units you have after the final round.",
    "After the game has finished, the best-performing half of agents will survive to the next generation, and continue playing.",
  ].join("\n");
}

/** The paper's `generate_strategy` prompt (after the system prompt). `inherited` null in generation 1. */
export function strategyPrompt(rules: GameRules, name: string, inherited: readonly string[] | null): string {
  const pun = rules.punishment
    ? `You may also choose to punish the recipient by spending x units to take away ${fmtUnits(rules.loss)}x of their resources. Bear in mind that others may punish you too.`
    : "";
  const first = "In the first round, there will be no information about the recipient's previous behavior - think carefully about how much to donate in that case.";
  const end = "Then describe your strategy briefly without explanation in one sentence that starts: My strategy will be.";
  if (inherited === null) {
    return (
      `Your name is ${name}. Based on the description of the game, create a strategy that you will follow in the game. ${INFO}${pun}${first}` +
      `Before formulating your strategy, briefly think step by step about what would be a successful strategy in this game.${end}`
    );
  }
  const advice = inherited.map((s, i) => `\n${i + 1}. ${s}`).join("");
  return (
    `Your name is ${name}. How would you approach the game? Here is the advice of the best-performing 50% of the previous generation, along with their final scores.` +
    `Modify this advice to create your own strategy.${advice}\n${INFO}${pun}${first}` +
    "Before formulating your strategy, briefly think step by step about what would be a successful strategy in this game. In particular, think about how you can improve on the surviving agents' strategies." +
    end
  );
}

/** The paper's `donorPrompt` (after the system prompt), ending with "Justification:" for a completion model. */
export function donationPrompt(
  rules: GameRules,
  o: { donor: string; strategy: string; generation: number; round: number; recipient: string; recipientResources: number; trace: string; resources: number },
): string {
  const r = fmtUnits(o.resources);
  const strategy = o.strategy ? `As you will recall, here is the strategy you decided to follow: ${o.strategy}` : "";
  const ask = rules.punishment
    ? `State your answer as EITHER Donate, x OR Punish, x, to either have them receive ${fmtUnits(rules.multiplier)}x units or punish them by taking away ${fmtUnits(rules.loss)}x of their units. Remember, your answer should be simply 'Donate, x' or 'Punish, x' (where x is the real number of units you give up.)`
    : `state your answer as a real number between 0 and ${r} (inclusive).`;
  const again = rules.punishment
    ? `Remember, state your answer as EITHER Donate, x OR Punish, x, to either have them receive ${fmtUnits(rules.multiplier)}x units or punish them by taking away ${fmtUnits(rules.loss)}x of their units.`
    : "";
  return (
    `Your name is ${o.donor}. ${strategy}This is generation ${o.generation}. It is now round ${o.round}. ` +
    `In this round, you have been paired with ${o.recipient}. They currently have ${fmtUnits(o.recipientResources)} units of the valuable resource.${o.trace}` +
    `You will take the role of donor. You currently have ${r} units of the valuable resource. How many units do you give up?${ask}` +
    "Very briefly think step by step about how you apply your strategy in this situation and then provide your answer." +
    "State your full response in the following form:Justification:[multi-line justification here] Answer: [answer here]" +
    `Remember: First state your justification and after that your answer.${again}\n\nJustification:`
  );
}

function boolParam(params: Params, name: string, fallback: boolean): boolean {
  const v = params[name];
  if (v === undefined) return fallback;
  if (typeof v === "boolean") return v;
  const s = String(v).trim().toLowerCase();
  if (s === "true") return true;
  if (s === "false") return false;
  throw new CivitasError("usage", `parameter ${name} must be true or false, got ${String(v)}`);
}

export function createCooperation(params: Params, deps: DynamicsDeps): CooperationDynamics {
  const model = deps.model;
  const llmShare = llmShareParam("cooperation", params, model);
  const roundsParam = params.rounds === undefined ? undefined : numberParam(params, "rounds", { min: 1, integer: true });
  const games = numberParam(params, "games", { default: 2, min: 1, max: 2, integer: true });
  const rules: GameRules = {
    endowment: numberParam(params, "endowment", { default: 10, min: 0, exclusiveMin: true }),
    multiplier: numberParam(params, "multiplier", { default: 2, min: 0 }),
    punishment: boolParam(params, "punishment", false),
    loss: numberParam(params, "punishment_loss", { default: 2, min: 0 }),
  };
  const mutation = numberParam(params, "mutation", { default: 0.05, min: 0, max: 1 });
  const temperature = numberParam(params, "temperature", { default: 1, min: 0 });
  const maxTokens = numberParam(params, "max_tokens", { default: 200, min: 1, integer: true });
  const strategyTokens = numberParam(params, "strategy_tokens", { default: 300, min: 1, integer: true });
  const population = deps.population;
  const system = systemPrompt(rules);

  const personaPart = (i: number): string => {
    const p = population?.agents[i]?.persona.trim() ?? "";
    return p === "" ? "" : `${p}\n\n`;
  };
  const drawRule = (st: CooperationState, i: number, rng: Rng): void => {
    st.give[i] = rng.float();
    st.threshold[i] = rng.float();
    st.punish[i] = rng.float();
    st.strategy[i] = ruleStrategyText(st.give[i]!, st.threshold[i]!, st.punish[i]!, rules.punishment);
  };

  return {
    name: "cooperation",
    update: "synchronous",
    punishment: rules.punishment,
    init({ graph, rng }) {
      const n = graph.n;
      if (n < 2 || n % 2 !== 0) {
        throw new CivitasError("usage", `scenario cooperation: agents must be even and at least 2 (the pairing splits them into two halves), got ${n}`);
      }
      if (population !== undefined && population.agents.length !== n) {
        throw new CivitasError("usage", `scenario cooperation: population has ${population.agents.length} agents, the graph ${n}`);
      }
      const st: CooperationState = {
        n,
        llm: chooseModelAgents(n, llmShare, rng),
        born: new Int32Array(n).fill(1),
        strategy: Array.from({ length: n }, () => ""),
        justification: Array.from({ length: n }, () => ""),
        give: new Float64Array(n).fill(Number.NaN),
        threshold: new Float64Array(n).fill(Number.NaN),
        punish: new Float64Array(n).fill(Number.NaN),
        fresh: new Uint8Array(n).fill(1),
        score: new Float64Array(n).fill(Number.NaN),
        meanShare: new Float64Array(n).fill(Number.NaN),
        inherited: [],
        generation: 0,
        donation: Number.NaN,
        resources: rules.endowment,
        punishRate: Number.NaN,
        unparsed: Number.NaN,
      };
      for (let i = 0; i < n; i++) {
        if (!st.llm[i]) {
          drawRule(st, i, rng);
          st.fresh[i] = 0;
        }
      }
      return st;
    },
    async step(st, { rng, step }) {
      const n = st.n;
      const gen = st.generation + 1;
      const names = Array.from({ length: n }, (_, i) => agentName(st.born[i]!, i));
      // 1. strategies of the new model-driven agents (on copies: a failed step changes nothing)
      const strategy = st.strategy.slice();
      const justification = st.justification.slice();
      const writers: number[] = [];
      for (let i = 0; i < n; i++) if (st.llm[i] && st.fresh[i]) writers.push(i);
      const seeds = writers.map(() => rng.int(0, 2 ** 31 - 1));
      if (writers.length > 0 && model !== undefined) {
        const inherited = gen === 1 ? null : st.inherited;
        const texts = await Promise.all(
          writers.map((i, w) => {
            const ask = strategyPrompt(rules, names[i]!, inherited);
            return model.complete({
              prompt: `${personaPart(i)}${system}\n\n${ask}`,
              plain: `${system}\n\n${ask}`,
              maxTokens: strategyTokens,
              temperature,
              seed: seeds[w]!,
              step: step + 1,
              agent: i,
            });
          }),
        );
        writers.forEach((i, w) => {
          [justification[i], strategy[i]] = parseStrategy(texts[w]!);
        });
      }
      // 2. the games
      const order = Int32Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(0, i);
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      const rounds = roundsParam ?? n;
      const score = new Float64Array(n);
      const shareSum = new Float64Array(n);
      const shareCount = new Float64Array(n);
      let decisions = 0;
      let given = 0;
      let punished = 0;
      let asked = 0;
      let unparsed = 0;
      let finalMean = 0;
      for (let game = 0; game < games; game++) {
        const resources = new Float64Array(n).fill(rules.endowment);
        const trace: string[][] = names.map((nm) => [`${nm} did not have any previous interactions.`]);
        const last: { kind: "donate" | "punish" | "none" | "start"; share: number }[] = names.map(() => ({ kind: "start", share: Number.NaN }));
        for (let r = 0; r < rounds; r++) {
          const pairs = roundPairs(order, r, game === 1);
          const pairSeeds = pairs.map(([d]) => (st.llm[d] ? rng.int(0, 2 ** 31 - 1) : 0));
          const calls: Promise<string>[] = [];
          if (model !== undefined) {
            pairs.forEach(([d, c], p) => {
              if (!st.llm[d]) return;
              const fields = {
                donor: names[d]!,
                strategy: strategy[d]!,
                generation: gen,
                round: r + 1,
                recipient: names[c]!,
                recipientResources: resources[c]!,
                trace: traceText(trace[c]!),
                resources: resources[d]!,
              };
              const ask = donationPrompt(rules, fields);
              // the plain prompt a steered scenario decodes against: without the strategy
              const plainAsk = donationPrompt(rules, { ...fields, strategy: "" });
              calls.push(
                model.complete({ prompt: `${personaPart(d)}${system}\n\n${ask}`, plain: `${system}\n\n${plainAsk}`, maxTokens, temperature, seed: pairSeeds[p]!, step: step + 1, agent: d }),
              );
            });
          }
          const texts = await Promise.all(calls);
          let c = 0;
          // every donor decides from the state at the start of the round
          const actions = pairs.map(([d, rc]): CoopAction => {
            if (st.llm[d]) {
              asked++;
              const a = parseDecision(texts[c++]!, rules.punishment);
              return a ?? { kind: "none", units: 0 };
            }
            return ruleAction(st.give[d]!, st.threshold[d]!, st.punish[d]!, resources[d]!, last[rc]!, rules.punishment);
          });
          const before = Float64Array.from(resources);
          pairs.forEach(([d, rc], p) => {
            const a = actions[p]!;
            const ok = applyAction(resources, d, rc, a, rules.multiplier, rules.loss);
            if (!ok && st.llm[d]) unparsed++;
            const share = ok && a.kind === "donate" && before[d]! > 0 ? a.units / before[d]! : 0;
            decisions++;
            given += share;
            shareSum[d]! += share;
            shareCount[d]!++;
            if (ok && a.kind === "punish") punished++;
            if (ok) {
              trace[d] = [...trace[rc]!.slice(-2), actionSentence(r + 1, names[d]!, names[rc]!, a, share, rules.loss)];
              last[d] = { kind: a.kind, share: a.kind === "donate" ? share : 0 };
            }
          });
        }
        let sum = 0;
        for (let i = 0; i < n; i++) {
          score[i]! += resources[i]!;
          sum += resources[i]!;
        }
        finalMean += sum / n / games;
      }
      // 3. selection (the state changes only now)
      for (let i = 0; i < n; i++) {
        st.strategy[i] = strategy[i]!;
        st.justification[i] = justification[i]!;
        st.score[i] = score[i]!;
        st.meanShare[i] = shareCount[i]! > 0 ? shareSum[i]! / shareCount[i]! : Number.NaN;
      }
      st.fresh.fill(0);
      st.donation = decisions > 0 ? given / decisions : Number.NaN;
      st.punishRate = decisions > 0 ? punished / decisions : Number.NaN;
      st.unparsed = asked > 0 ? unparsed / asked : Number.NaN;
      st.resources = finalMean;
      const { survivors, dropped } = rankAgents(score, order);
      st.inherited = survivors.map((i) => st.strategy[i]!);
      const ruleSurvivors = survivors.filter((i) => !st.llm[i]);
      let k = 0;
      for (const i of dropped) {
        st.born[i] = gen + 1;
        st.justification[i] = "";
        if (st.llm[i]) {
          st.strategy[i] = "";
          st.fresh[i] = 1;
        } else if (ruleSurvivors.length > 0) {
          const p = ruleSurvivors[k++ % ruleSurvivors.length]!;
          st.give[i] = clamp01(st.give[p]! + mutation * (2 * rng.float() - 1));
          st.threshold[i] = clamp01(st.threshold[p]! + mutation * (2 * rng.float() - 1));
          st.punish[i] = clamp01(st.punish[p]! + mutation * (2 * rng.float() - 1));
          st.strategy[i] = ruleStrategyText(st.give[i]!, st.threshold[i]!, st.punish[i]!, rules.punishment);
        } else drawRule(st, i, rng);
      }
      st.generation = gen;
      return false;
    },
    metrics(st) {
      const n = st.n;
      let llm = 0;
      let words = 0;
      let written = 0;
      for (let i = 0; i < n; i++) {
        if (!st.llm[i]) continue;
        llm++;
        if (st.strategy[i] !== "") {
          words += st.strategy[i]!.split(/\s+/u).filter(Boolean).length;
          written++;
        }
      }
      const shares = Float64Array.from(Array.from(st.meanShare).filter((x) => !Number.isNaN(x))).sort();
      const s = shares.length > 0 ? summarizeOpinions(shares, 0.05, { minShare: (0.05 * n) / shares.length, sorted: true }) : null;
      return {
        donation: st.donation,
        resources: st.resources,
        punish_rate: st.punishRate,
        unparsed: st.unparsed,
        strategy_words: written > 0 ? words / written : Number.NaN,
        llm_share: llm / n,
        consensus: s !== null && s.spread <= 0.01 ? 1 : 0,
        clusters: s?.clusters ?? 0,
      };
    },
    agents(st): MeasuredAgent[] {
      return Array.from({ length: st.n }, (_, i) => ({
        attributes: population?.agents[i]?.attributes ?? {},
        persona: population?.agents[i]?.persona ?? "",
        llm: st.llm[i] === 1,
        memory: st.strategy[i] ? `As you will recall, here is the strategy you decided to follow: ${st.strategy[i]}` : "",
      }));
    },
  };
}
