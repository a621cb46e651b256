/**
 * The simulation engine's core types. A world is N agents on a graph stored compactly (CSR), a
 * dynamics that updates their state step by step (rule-based models in typed arrays, or agents
 * that ask a model), and metrics collected as it runs.
 */
import type { Rng } from "../metrics/index.js";

/** An undirected (or directed) graph in compressed sparse row form: the neighbours of v are neighbors[offsets[v] .. offsets[v+1]). */
export interface Graph {
  readonly n: number;
  readonly offsets: Int32Array;
  readonly neighbors: Int32Array;
  /** Optional edge weights aligned with `neighbors` (e.g. DeGroot trust). */
  readonly weights?: Float64Array;
  readonly directed: boolean;
  /**
   * "complete": every pair of distinct agents is adjacent. Such a graph may be implicit (no edge
   * lists: `offsets` all 0, `neighbors` empty) so that N = 10^6 costs no N^2 memory; dynamics
   * sample partners directly, and `degree`, `randomNeighbor`, `neighborsOf` in graph.ts handle it.
   */
  readonly kind?: "complete";
}

/** Scenario parameters after validation: numbers, strings and booleans by name (agents, epsilon, mu, graph, steps, ...). */
export type Params = Readonly<Record<string, number | string | boolean>>;

export interface StepContext {
  readonly graph: Graph;
  readonly params: Params;
  readonly rng: Rng;
  /** 0-based step being computed. */
  readonly step: number;
  readonly seed: number;
  /** Stops a long step early (interrupt, budget). */
  readonly signal?: AbortSignal;
}

/**
 * A model of how agents update. `step` returns true when the dynamics has converged (the run then
 * stops before the step limit). Rule-based dynamics are synchronous; model-driven ones return a
 * promise.
 */
export interface Dynamics<S> {
  readonly name: string;
  /**
   * How one step updates the agents (informational; the dynamics implements it in `step`).
   * One step is one sweep, so time means the same in every dynamics:
   * - "synchronous": every agent updates once from the state at the start of the step (parallel).
   * - "asynchronous": random sequential: N single updates (an agent, or a pair of neighbours,
   *   drawn uniformly at random each time), each seeing the effect of the ones before it.
   */
  readonly update?: "synchronous" | "asynchronous";
  init(ctx: Omit<StepContext, "step">): S | Promise<S>;
  step(state: S, ctx: StepContext): boolean | Promise<boolean>;
  /** Metrics of the current state (every dynamics reports at least consensus, clusters; the engine adds steps). */
  metrics(state: S, ctx: StepContext): Readonly<Record<string, number>>;
  /**
   * Who each agent is now, in node order, for a scenario's `measure:` (persona fidelity and
   * drift, src/sim/measure.ts): the runner asks every model-driven agent the survey questions with
   * its persona and its memory. Dynamics without it cannot be measured (a clear error).
   * Must not change the state or draw random numbers.
   */
  agents?(state: S): readonly MeasuredAgent[];
}

/** One agent as a survey respondent: drawn by `population:` (src/sim/population.ts) or given by its scenario. */
export interface AgentProfile {
  /** Its attributes by survey attribute name, e.g. { POLPARTY: "Democrat", SEX: "Female" }; {} for none. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The persona paragraph its prompts start with ("" for none). */
  readonly persona: string;
}

/** An agent at a measured step (`Dynamics.agents`). */
export interface MeasuredAgent extends AgentProfile {
  /** True when the agent asks the model (only those are measured; rule-based agents have no answers to give). */
  readonly llm: boolean;
  /**
   * What the agent has read and said so far, as its prompts show it (its bounded memory), put
   * between the persona and the survey question when it is measured; "" for none.
   */
  readonly memory: string;
}

/** Agents drawn from a survey's population (scenario key `population:`, src/sim/population.ts). */
export interface AgentPopulation {
  /** Where the draws come from, said in reports (e.g. "opinionqa W92, POLPARTY x SEX cell counts"). */
  readonly source: string;
  /** The attributes every agent has, in the order personas name them. */
  readonly attributes: readonly string[];
  /** One profile per agent, in node order (length = the number of agents). */
  readonly agents: readonly AgentProfile[];
}

/**
 * How model-driven agents reach a model: through the same machinery as `civitas eval` (request
 * cache, bounded concurrency, retries), with every call recorded for replay and counted against a
 * budget. Implemented in src/sim/model.ts; a replaying one answers from the record with no model.
 */
export interface SimModel {
  /**
   * Next-token probability of each option label after the prompt (in the order of `labels`,
   * renormalised over them), and the raw coverage.
   */
  optionDistribution(query: SimQuery & { readonly labels: readonly string[] }): Promise<{ readonly distribution: number[]; readonly coverage: number }>;
  /** A sampled text completion (seeded). */
  complete(query: SimQuery & { readonly maxTokens: number; readonly temperature: number; readonly seed: number }): Promise<string>;
  /** Calls, cache hits, tokens, and the peak of calls in flight, so far. */
  readonly stats: SimModelStats;
}

export interface SimQuery {
  /**
   * The whole prompt, evaluated whole (never split at a shared prefix), so that its answer is the
   * one `civitas eval` stores for the same prompt and the two share the request cache.
   */
  readonly prompt: string;
  /**
   * The same prompt without the agent's persona (its persona paragraph, or its strategy), the
   * plain prompt a steered scenario (`steer`, src/sim/steer.ts) decodes the prompt against; the
   * prompt itself when the agent has no persona. Not part of the request key (the steered model's
   * identity names the steering).
   */
  readonly plain?: string;
  /** Who asks when: recorded with the call. */
  readonly step: number;
  readonly agent: number;
}

export interface SimModelStats {
  readonly calls: number;
  readonly cacheHits: number;
  readonly promptTokens: number;
  readonly maxInFlight: number;
  /** Mean calls in flight while any was, for the benchmark's in-flight / limit figure. */
  readonly meanInFlight: number;
  readonly concurrency: number;
}

/** What a scenario's dynamics may need besides its parameters. */
export interface DynamicsDeps {
  /** Present when the scenario names a model (or replays a run). */
  readonly model?: SimModel;
  /** Present when the scenario names a survey (model-driven scenarios). */
  readonly suite?: import("../surveys/index.js").Suite;
  /**
   * Present when the scenario has `population:`: the agents' attributes and personas, drawn by the
   * runner with the simulation's seed. A scenario that takes personas uses these instead of its own.
   */
  readonly population?: AgentPopulation;
}

/** Builds a scenario's dynamics from its validated parameters. */
export type DynamicsFactory = (params: Params, deps: DynamicsDeps) => Dynamics<unknown>;
