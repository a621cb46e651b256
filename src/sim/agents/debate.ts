/**
 * `debate`: groups of agents with opposing personas discuss a survey question in rounds of free
 * text, then answer it; how far each group's answers move, and whether they stay like the real
 * group they stand for. After Taubenfeld, Dover, Reichart and Goldstein, "Systematic Biases in LLM
 * Simulations of Debates" (EMNLP 2024, arXiv:2402.04049: agents given political personas drift
 * towards the model's own default view as they debate) and Chuang et al., "DEBATE: A Large-Scale
 * Benchmark for Role-Playing LLM Agents in Multi-Agent, Long-Form Debates" (arXiv:2510.25110, 2025:
 * simulated groups converge more than human ones).
 *
 * World. The agents and their personas: from `deps.population` when the scenario has
 * `population:` (each agent its own persona and attributes; its group is its value of the grouping
 * attribute: `attribute` when it names one attribute, else the population's first attribute, and
 * the group's real answers are the suite's population `<attribute>=<value>`); otherwise the groups
 * of the survey's `attribute` / `populations` in their real shares, as `opinion` places them
 * (`surveySetup`, `assignGroups`), each with its group's steering persona. The question must be
 * ordinal (attitudes are positions on its scale). A share `llm_share` of the agents (drawn at
 * random) asks the model; the others are rule-based (below).
 *
 * Step 0 (init): every agent answers before any talk. A model-driven agent asks its persona prompt
 * with an empty memory, which is exactly the prompt of `civitas eval --persona` (so the two share
 * cached answers; an answer with no mass on the scored options counts as uniform over them); a
 * rule-based agent draws an option from its group's real answers (run RNG).
 *
 * A step is a round (synchronous):
 * 1. Partners. `partners: rooms` (default): the agents are dealt into rooms of at most `room_size`
 *    (default 4) drawn across groups (`assignRooms`: each group's members shuffled, the groups
 *    spread evenly through one sequence, cut into ceil(n / room_size) consecutive rooms, at least 2
 *    agents each); `partners: graph`: an agent's partners are its graph neighbours.
 * 2. Messages. Every model-driven agent writes a short message (`complete`, `max_tokens` default 48,
 *    `temperature` default 0.7, a seed drawn from the run's RNG in agent order, so the call is
 *    recorded and replayable), to the prompt
 *
 *        <persona>\n\n
 *        <memory>\n\n                  (when not empty; src/sim/memory.ts)
 *        You are taking part in a discussion of this question: <question text>\n
 *        Say what you think and why, in one or two sentences.\n
 *        You:
 *
 *    and keeps its first line (whitespace collapsed; "(no message)" when empty). A rule-based agent
 *    posts a fixed stance sentence: "I would answer '<option>'." (<option> the scored option nearest
 *    its attitude).
 * 3. Reading. Every model-driven agent adds the round's messages of its room (room order; its own as
 *    "You", the others as "Participant <node + 1>") or of itself and its neighbours (node order) to
 *    its bounded memory (`memory_tokens`, default 400: the most recent messages verbatim, older
 *    ones by their first sentence, the oldest dropped; see src/sim/memory.ts).
 * 4. Answers. Every model-driven agent answers the question: the standard prompt of `renderPrompt`
 *    after its persona and its memory (`<persona>\n\n<memory>\n\n<question and options>\nAnswer:`),
 *    an option distribution over the labels, renormalised over the scored options (an answer with
 *    no mass on them keeps the previous one). A rule-based agent moves by bounded confidence
 *    (Hegselmann and Krause 2002, with a step): a <- a + mu * mean(a_j - a) over its partners j with
 *    |a_j - a| <= epsilon (attitudes at the start of the round; `epsilon` default 0.4, `mu` default
 *    0.5; no such partner: it keeps its attitude).
 * All calls of a phase are issued together; the step changes no agent (memories included) until
 * all its calls have answered, so a budget that runs out leaves the last complete round. Never
 * converges before the step limit.
 *
 * Attitudes and answers. x_k is option k's ordinal position normalised to [0, 1]. A model-driven
 * agent's answer is its distribution d over the scored options and its attitude the expected
 * position a = sum_k d_k x_k; a rule-based agent's attitude a is a position and its answer the point
 * mass on the option nearest a (ties: the lower option).
 *
 * Metrics (k: the group's index, in the order of `survey.attribute`'s groups, or of the population's
 * values as the suite lists them):
 * - `position`: mean attitude; `change`: mean |a_i(t) - a_i(0)| over agents (attitude change per
 *   agent); `shift_<k>`: mean a_i(t) - a_i(0) over group k (signed: + towards the scale's last
 *   option).
 * - `tv_start_<k>` and `tv_<k>`: the total variation distance (Meister et al. 2024's TV, as
 *   `opinion`'s tv_population) between group k's simulated distribution (the mean of its agents'
 *   answer distributions) and its real one, at step 0 and now; `tv_population`: the same for all
 *   agents against the groups' real distributions mixed in the agents' group shares.
 * - `in_range` and `in_range_<k>`: the share of agents (of group k) whose attitude lies within their
 *   group's real range: [the group's q-quantile position, its (1 - q)-quantile position] with
 *   q = (1 - `range`) / 2 (`range` default 0.5: the group's interquartile range, the central half of
 *   its real answers; the p-quantile is the smallest position whose cumulative real share reaches p); `adherence`: the
 *   mean over agents of the share of their answers so far (steps 0..t) within that range. This is
 *   Civitas's own measure of role adherence: the DEBATE paper evaluates stance alignment and opinion
 *   convergence, and no "share within the group's range" definition could be traced to it.
 *   Agents of a group without real answers are left out (NaN when none is left).
 * - `memory_tokens`: the mean estimated tokens of the model-driven agents' memories.
 *
 * Params: question, attribute, populations (from `survey`, as `opinion`), llm_share, partners (rooms
 * | graph), room_size, max_tokens, temperature, memory_tokens, epsilon, mu, range.
 */
import { CivitasError } from "../../errors.js";
import type { Rng } from "../../metrics/index.js";
import { numberParam } from "../engine.js";
import { neighborsOf } from "../graph.js";
import { BoundedMemory, oneLine, type MemoryEntry } from "../memory.js";
import type { Population } from "../../surveys/index.js";
import type { AgentPopulation, Dynamics, DynamicsDeps, Graph, MeasuredAgent, Params, SimModel } from "../types.js";
import { assignGroups, choiceParam, chooseModelAgents, drawIndex, llmShareParam, scoredDistribution, shuffle, surveySetup, type SurveySetup } from "./opinion.js";

/** A group of debaters: a population of the survey and its real answers. */
export interface DebateGroup {
  readonly population: Population | null;
  /** Real distribution over the scored options, or null when the suite has none. */
  readonly human: readonly number[] | null;
  /** [low, high] positions of the group's real range (see `realRange`), or null. */
  readonly range: readonly [number, number] | null;
}

export interface DebateState {
  readonly n: number;
  /** Number of scored options. */
  readonly m: number;
  readonly group: Int32Array;
  readonly llm: Uint8Array;
  /** Each agent's persona paragraph with its blank line ("" for none). */
  readonly personaPart: readonly string[];
  readonly attributes: readonly Readonly<Record<string, string>>[];
  /** Answer distributions, agent i at [i m, (i + 1) m). */
  dist: Float64Array;
  /** Attitudes (positions on [0, 1]) now and at step 0. */
  position: Float64Array;
  readonly start: Float64Array;
  /** Group distributions' TV from their real ones at step 0 (NaN without real answers). */
  readonly tvStart: Float64Array;
  /** Answers so far (steps 0..t) and, per agent, how many lay within its group's range. */
  answers: number;
  inRange: Int32Array;
  /** Model-driven agents' memories (null for rule-based agents). */
  memory: (BoundedMemory | null)[];
  /** The last round's rooms (node indices), empty with partners: graph or before the first round. */
  rooms: Int32Array[];
  /** The last round's messages by agent ("" before the first round). */
  messages: string[];
}

export interface DebateDynamics extends Dynamics<DebateState> {
  readonly setup: SurveySetup;
  readonly groups: readonly DebateGroup[];
  readonly llmShare: number;
}

// ---------------------------------------------------------------------------------------------
// Rule-based parts (exported for their known-answer tests)

/**
 * The real range of a group: [position of its q-quantile, position of its (1 - q)-quantile],
 * q = (1 - mass) / 2, the p-quantile being the smallest position whose cumulative real share (over
 * the options sorted by position) reaches p (a 1e-12 tolerance absorbs the rounding of the shares).
 */
export function realRange(human: readonly number[], positions: ArrayLike<number>, mass: number): [number, number] {
  const order = Array.from({ length: human.length }, (_, k) => k).sort((a, b) => positions[a]! - positions[b]! || a - b);
  const q = (1 - mass) / 2;
  const quantile = (p: number): number => {
    let acc = 0;
    for (const k of order) {
      acc += human[k]!;
      if (acc >= p - 1e-12 && human[k]! > 0) return positions[k]!;
    }
    return positions[order[order.length - 1]!]!;
  };
  return [quantile(q), quantile(1 - q)];
}

/**
 * Rooms of at most `roomSize` agents drawn across groups: each group's members (node order)
 * shuffled with the RNG (groups in order); member j of a group of size s placed at (j + 0.5) / s
 * and all sorted by that place (ties by group), so every group is spread evenly along the sequence;
 * the sequence cut into R = min(ceil(n / roomSize), floor(n / 2)) (at least 1) consecutive rooms,
 * the first n mod R of size ceil(n / R), the others floor(n / R). So rooms hold 2..roomSize agents
 * (n >= 2) and mix the groups in about their shares.
 */
export function assignRooms(group: Int32Array, groups: number, roomSize: number, rng: Rng): Int32Array[] {
  const n = group.length;
  if (!(Number.isInteger(roomSize) && roomSize >= 2)) throw new CivitasError("usage", `room_size must be an integer >= 2, got ${roomSize}`);
  const members: number[][] = Array.from({ length: groups }, () => []);
  for (let i = 0; i < n; i++) members[group[i]!]!.push(i);
  const placed: { agent: number; at: number; g: number }[] = [];
  members.forEach((list, g) => {
    const a = Int32Array.from(list);
    shuffle(a, rng);
    a.forEach((agent, j) => placed.push({ agent, at: (j + 0.5) / a.length, g }));
  });
  placed.sort((x, y) => x.at - y.at || x.g - y.g);
  const R = Math.max(1, Math.min(Math.ceil(n / roomSize), Math.floor(n / 2)));
  const rooms: Int32Array[] = [];
  const small = Math.floor(n / R);
  const big = n % R;
  for (let r = 0, p = 0; r < R; r++) {
    const size = small + (r < big ? 1 : 0);
    rooms.push(Int32Array.from(placed.slice(p, p + size), (x) => x.agent));
    p += size;
  }
  return rooms;
}

/**
 * One bounded-confidence move: a + mu * mean(a_j - a) over the partners' attitudes a_j with
 * |a_j - a| <= epsilon; a when there is none.
 */
export function boundedConfidence(a: number, partners: readonly number[], epsilon: number, mu: number): number {
  let sum = 0;
  let k = 0;
  for (const b of partners) {
    if (Math.abs(b - a) <= epsilon) {
      sum += b - a;
      k++;
    }
  }
  return k === 0 ? a : a + (mu * sum) / k;
}

/** The index of the position nearest x (ties: the lower index). */
export function nearestOption(x: number, positions: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < positions.length; k++) if (Math.abs(positions[k]! - x) < Math.abs(positions[best]! - x)) best = k;
  return best;
}

/** The expected position of a distribution. */
export function expectedPosition(d: ArrayLike<number>, positions: ArrayLike<number>, offset = 0): number {
  let s = 0;
  for (let k = 0; k < positions.length; k++) s += d[offset + k]! * positions[k]!;
  return s;
}

/** Total variation between two distributions. */
function tv(p: ArrayLike<number>, q: readonly number[]): number {
  let d = 0;
  for (let k = 0; k < q.length; k++) d += Math.abs(p[k]! - q[k]!);
  return d / 2;
}

/** The mean answer distribution of the agents of group g (all agents when g < 0); null when none. */
function meanDistribution(st: Pick<DebateState, "n" | "m" | "group" | "dist">, g: number): Float64Array | null {
  const out = new Float64Array(st.m);
  let c = 0;
  for (let i = 0; i < st.n; i++) {
    if (g >= 0 && st.group[i] !== g) continue;
    for (let k = 0; k < st.m; k++) out[k]! += st.dist[i * st.m + k]!;
    c++;
  }
  if (c === 0) return null;
  for (let k = 0; k < st.m; k++) out[k]! /= c;
  return out;
}

/** Group k's TV from its real answers (NaN without real answers or agents). */
function groupTv(st: Pick<DebateState, "n" | "m" | "group" | "dist">, groups: readonly DebateGroup[], g: number): number {
  const h = groups[g]!.human;
  const d = meanDistribution(st, g);
  return h === null || d === null ? Number.NaN : tv(d, h);
}

/** Whether a position lies in a range (a 1e-12 tolerance absorbs the rounding of expected positions). */
function within(x: number, r: readonly [number, number]): boolean {
  return x >= r[0] - 1e-12 && x <= r[1] + 1e-12;
}

/** The metrics of a debate state (see the module comment). */
export function debateMetrics(groups: readonly DebateGroup[], st: DebateState): Record<string, number> {
  const out: Record<string, number> = {};
  const G = groups.length;
  let pos = 0;
  let change = 0;
  const shift = new Float64Array(G);
  const count = new Float64Array(G);
  const inNow = new Float64Array(G);
  let ranged = 0;
  let rangedIn = 0;
  let adherence = 0;
  for (let i = 0; i < st.n; i++) {
    const g = st.group[i]!;
    const d = st.position[i]! - st.start[i]!;
    pos += st.position[i]!;
    change += Math.abs(d);
    shift[g]! += d;
    count[g]!++;
    const r = groups[g]!.range;
    if (r !== null) {
      ranged++;
      if (within(st.position[i]!, r)) {
        inNow[g]!++;
        rangedIn++;
      }
      adherence += st.inRange[i]! / st.answers;
    }
  }
  out.position = st.n > 0 ? pos / st.n : Number.NaN;
  out.change = st.n > 0 ? change / st.n : Number.NaN;
  for (let g = 0; g < G; g++) out[`shift_${g}`] = count[g]! > 0 ? shift[g]! / count[g]! : Number.NaN;
  for (let g = 0; g < G; g++) out[`tv_start_${g}`] = st.tvStart[g]!;
  for (let g = 0; g < G; g++) out[`tv_${g}`] = groupTv(st, groups, g);
  // the population: the groups' real answers mixed in the agents' group shares
  const all = meanDistribution(st, -1);
  if (all !== null && groups.every((gr, g) => gr.human !== null || count[g] === 0)) {
    const mix = new Array<number>(st.m).fill(0);
    groups.forEach((gr, g) => {
      if (count[g]! > 0) for (let k = 0; k < st.m; k++) mix[k]! += (count[g]! / st.n) * gr.human![k]!;
    });
    out.tv_population = tv(all, mix);
  } else out.tv_population = Number.NaN;
  out.in_range = ranged > 0 ? rangedIn / ranged : Number.NaN;
  for (let g = 0; g < G; g++) out[`in_range_${g}`] = groups[g]!.range !== null && count[g]! > 0 ? inNow[g]! / count[g]! : Number.NaN;
  out.adherence = ranged > 0 ? adherence / ranged : Number.NaN;
  let mem = 0;
  let llm = 0;
  for (let i = 0; i < st.n; i++) {
    const m = st.memory[i];
    if (m) {
      mem += m.tokens();
      llm++;
    }
  }
  out.memory_tokens = llm > 0 ? mem / llm : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Prompts

export const DISCUSS_LINE = "Say what you think and why, in one or two sentences.";

/** The message prompt's tail (after persona and memory). */
export function discussTail(questionText: string): string {
  return `You are taking part in a discussion of this question: ${oneLine(questionText)}\n${DISCUSS_LINE}\nYou:`;
}

/** persona + memory + body, each block followed by a blank line; `plain`: without the persona. */
export function debatePrompt(personaPart: string, memory: string, body: string): { prompt: string; plain: string } {
  const mem = memory === "" ? "" : `${memory}\n\n`;
  return { prompt: `${personaPart}${mem}${body}`, plain: `${mem}${body}` };
}

/** The first line of a completion, whitespace collapsed; "(no message)" when empty. */
export function messageOf(text: string): string {
  const first = oneLine(text.split("\n").find((l) => l.trim() !== "") ?? "");
  return first === "" ? "(no message)" : first;
}

// ---------------------------------------------------------------------------------------------
// The scenario

function stringParam(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  const s = String(v).trim();
  return s === "" ? undefined : s;
}

/** Groups and per-agent profiles from `deps.population` (see the module comment). */
function populationGroups(setup: SurveySetup, population: AgentPopulation, params: Params, mass: number): {
  groups: DebateGroup[];
  groupOf: Int32Array;
} {
  const asked = stringParam(params, "attribute");
  const attr = asked !== undefined && !/[=,]/u.test(asked) ? asked : population.attributes[0];
  if (attr === undefined) throw new CivitasError("usage", `scenario debate: the population (${population.source}) has no attribute to group its agents by`);
  const suite = setup.suite;
  const values: string[] = [];
  const groupOf = new Int32Array(population.agents.length);
  population.agents.forEach((a, i) => {
    const v = a.attributes[attr];
    if (v === undefined) throw new CivitasError("usage", `scenario debate: agent ${i + 1} of the population has no ${attr}`, { hint: `group the agents by one of ${population.attributes.join(", ")} (survey.attribute)` });
    let g = values.indexOf(v);
    if (g < 0) g = values.push(v) - 1;
    groupOf[i] = g;
  });
  // groups in the order the suite lists their populations
  const pops = values.map((v) => suite.populations.find((p) => p.attribute === attr && p.value === v) ?? null);
  const rank = (p: Population | null) => (p === null ? Number.MAX_SAFE_INTEGER : suite.populations.indexOf(p));
  const order = values.map((_, g) => g).sort((a, b) => rank(pops[a]!) - rank(pops[b]!) || values[a]!.localeCompare(values[b]!));
  const newIndex = new Int32Array(values.length);
  order.forEach((g, k) => (newIndex[g] = k));
  for (let i = 0; i < groupOf.length; i++) groupOf[i] = newIndex[groupOf[i]!]!;
  const groups = order.map((g) => makeGroup(setup, pops[g]!, mass));
  return { groups, groupOf };
}

function makeGroup(setup: SurveySetup, population: Population | null, mass: number): DebateGroup {
  const h = population === null ? undefined : setup.suite.human(setup.question.id, population.id);
  const human = h !== undefined && h.probs.length === setup.scored.length ? h.probs : null;
  return { population, human, range: human === null ? null : realRange(human, setup.positions!, mass) };
}

export function createDebate(params: Params, deps: DynamicsDeps): DebateDynamics {
  const setup = surveySetup("debate", params, deps.suite);
  if (setup.positions === null) {
    throw new CivitasError("usage", `scenario debate: question ${setup.question.id} is not on an ordinal scale; attitudes are positions on the scale`, {
      hint: "choose an ordinal question (`civitas suites show` marks them)",
    });
  }
  const positions = setup.positions;
  const model = deps.model;
  const llmShare = llmShareParam("debate", params, model);
  const partners = choiceParam(params, "partners", ["rooms", "graph"] as const, "rooms");
  const roomSize = numberParam(params, "room_size", { default: 4, min: 2, integer: true });
  const maxTokens = numberParam(params, "max_tokens", { default: 48, min: 1, integer: true });
  const temperature = numberParam(params, "temperature", { default: 0.7, min: 0 });
  const memoryTokens = numberParam(params, "memory_tokens", { default: 400, min: 0, integer: true });
  const epsilon = numberParam(params, "epsilon", { default: 0.4, min: 0 });
  const mu = numberParam(params, "mu", { default: 0.5, min: 0, max: 1 });
  const mass = numberParam(params, "range", { default: 0.5, min: 0, max: 1 });
  const m = setup.scored.length;
  const labels = setup.labels;
  const plainQuestion = setup.groups[0]!.plain;
  const tail = discussTail(setup.question.text);

  const population = deps.population;
  const fromPopulation = population === undefined ? null : populationGroups(setup, population, params, mass);
  const groups: DebateGroup[] = fromPopulation?.groups ?? setup.groups.map((g) => ({ population: g.population, human: g.human, range: g.human === null ? null : realRange(g.human, positions, mass) }));
  if (llmShare < 1 && groups.some((g) => g.human === null)) {
    throw new CivitasError("usage", `scenario debate: rule-based agents start from their group's real answers to ${setup.question.id}, which a group lacks in suite ${setup.suite.name}`, {
      hint: "set llm_share: 1, or choose groups with real answers",
    });
  }

  const partnersOf = (st: DebateState, graph: Graph, i: number, roomOf: Int32Array): number[] => {
    if (partners === "graph") return Array.from(neighborsOf(graph, i));
    const room = st.rooms[roomOf[i]!]!;
    return Array.from(room).filter((j) => j !== i);
  };

  const stanceSentence = (a: number) => `I would answer '${setup.options[nearestOption(a, positions)]}'.`;

  const setPointMass = (dist: Float64Array, i: number, a: number) => {
    dist.fill(0, i * m, (i + 1) * m);
    dist[i * m + nearestOption(a, positions)] = 1;
  };

  const askAnswers = (st: DebateState, memories: readonly (BoundedMemory | null)[], step: number, model: SimModel): Promise<(Float64Array | null)[]> => {
    const out: (Float64Array | null)[] = Array.from({ length: st.n }, () => null);
    const calls: Promise<void>[] = [];
    for (let i = 0; i < st.n; i++) {
      if (!st.llm[i]) continue;
      const p = debatePrompt(st.personaPart[i]!, memories[i]?.render() ?? "", plainQuestion);
      calls.push(model.optionDistribution({ prompt: p.prompt, plain: p.plain, labels, step, agent: i }).then((r) => void (out[i] = scoredDistribution(setup, r.distribution))));
    }
    return Promise.all(calls).then(() => out);
  };

  const countInRange = (st: DebateState) => {
    for (let i = 0; i < st.n; i++) {
      const r = groups[st.group[i]!]!.range;
      if (r !== null && within(st.position[i]!, r)) st.inRange[i]!++;
    }
    st.answers++;
  };

  return {
    name: "debate",
    update: "synchronous",
    setup,
    groups,
    llmShare,
    async init({ graph, rng }) {
      const n = graph.n;
      if (population !== undefined && population.agents.length !== n) {
        throw new CivitasError("usage", `scenario debate: the population has ${population.agents.length} agents but the graph has ${n} nodes`);
      }
      const group = fromPopulation?.groupOf ?? assignGroups(n, setup.groups.map((g) => g.weight), rng);
      const llm = chooseModelAgents(n, llmShare, rng);
      const personaPart: string[] = [];
      const attributes: Readonly<Record<string, string>>[] = [];
      for (let i = 0; i < n; i++) {
        if (population !== undefined) {
          const a = population.agents[i]!;
          personaPart.push(a.persona.trim() === "" ? "" : `${a.persona.trim()}\n\n`);
          attributes.push(a.attributes);
        } else {
          const g = setup.groups[group[i]!]!;
          personaPart.push(g.personaPart);
          const p = g.population;
          attributes.push(p !== null && p.attribute !== null ? { [p.attribute]: p.value } : {});
        }
      }
      const st: DebateState = {
        n,
        m,
        group,
        llm,
        personaPart,
        attributes,
        dist: new Float64Array(n * m),
        position: new Float64Array(n),
        start: new Float64Array(n),
        tvStart: new Float64Array(groups.length),
        answers: 0,
        inRange: new Int32Array(n),
        memory: Array.from({ length: n }, (_, i) => (llm[i] ? new BoundedMemory({ budget: memoryTokens }) : null)),
        rooms: [],
        messages: new Array<string>(n).fill(""),
      };
      const got = model !== undefined && llmShare > 0 ? await askAnswers(st, st.memory, 0, model) : [];
      for (let i = 0; i < n; i++) {
        if (llm[i]) {
          const d = got[i] ?? new Float64Array(m).fill(1 / m);
          st.dist.set(d, i * m);
          st.position[i] = expectedPosition(d, positions);
        } else {
          const k = drawIndex(groups[group[i]!]!.human!, rng.float());
          st.position[i] = positions[k]!;
          setPointMass(st.dist, i, st.position[i]!);
        }
      }
      st.start.set(st.position);
      for (let g = 0; g < groups.length; g++) st.tvStart[g] = groupTv(st, groups, g);
      countInRange(st);
      return st;
    },
    async step(st, { graph, rng, step }) {
      const n = st.n;
      const round = step + 1;
      // 1. partners
      const rooms = partners === "rooms" ? assignRooms(st.group, groups.length, roomSize, rng) : [];
      const roomOf = new Int32Array(n);
      rooms.forEach((r, k) => r.forEach((i) => (roomOf[i] = k)));
      const view: DebateState = { ...st, rooms };
      // 2. messages (seeds drawn in agent order before any call)
      const seeds = new Int32Array(n);
      for (let i = 0; i < n; i++) if (st.llm[i]) seeds[i] = rng.int(0, 2 ** 31 - 1);
      const messages = new Array<string>(n);
      const calls: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        if (!st.llm[i]) {
          messages[i] = stanceSentence(st.position[i]!);
          continue;
        }
        const p = debatePrompt(st.personaPart[i]!, st.memory[i]!.render(), tail);
        calls.push(
          model!
            .complete({ prompt: p.prompt, plain: p.plain, maxTokens, temperature, seed: seeds[i]!, step: round, agent: i })
            .then((text) => void (messages[i] = messageOf(text))),
        );
      }
      await Promise.all(calls);
      // 3. reading, into copies (kept only when the round completes)
      const partnerLists: number[][] = Array.from({ length: n }, (_, i) => partnersOf(view, graph, i, roomOf));
      const memories = st.memory.map((mem, i) => {
        if (mem === null) return null;
        const next = mem.clone();
        const heard = partners === "rooms" ? Array.from(rooms[roomOf[i]!]!) : [i, ...partnerLists[i]!].sort((a, b) => a - b);
        next.add(...heard.map((j): MemoryEntry => ({ speaker: j === i ? "You" : `Participant ${j + 1}`, text: messages[j]! })));
        return next;
      });
      // 4. answers
      const got = model !== undefined && llmShare > 0 ? await askAnswers(st, memories, round, model) : [];
      const before = Float64Array.from(st.position);
      for (let i = 0; i < n; i++) {
        if (st.llm[i]) {
          const d = got[i];
          if (d !== null && d !== undefined) {
            st.dist.set(d, i * m);
            st.position[i] = expectedPosition(d, positions);
          }
        } else {
          st.position[i] = boundedConfidence(before[i]!, partnerLists[i]!.map((j) => before[j]!), epsilon, mu);
          setPointMass(st.dist, i, st.position[i]!);
        }
      }
      st.memory = memories;
      st.rooms = rooms;
      st.messages = messages;
      countInRange(st);
      return false;
    },
    metrics(st) {
      return debateMetrics(groups, st);
    },
    agents(st): MeasuredAgent[] {
      return Array.from({ length: st.n }, (_, i) => ({
        attributes: st.attributes[i]!,
        persona: st.personaPart[i]!.trim(),
        llm: st.llm[i] === 1,
        memory: st.memory[i]?.render() ?? "",
      }));
    },
  };
}

