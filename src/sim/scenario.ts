/**
 * Scenario files: what `civitas simulate FILE` runs. YAML or JSON (JSON is read as YAML 1.2, of
 * which it is a subset), validated with zod; every error names the file and the field path
 * (`examples/hk.yaml: params.epsilon: expected a number, got "high"`), and an unknown field is an
 * error that lists the valid ones.
 *
 * ```yaml
 * name: hk-consensus                 # required; the run is stored as suite "sim:<name>"
 * dynamics: hk                       # degroot | hk | deffuant | voter | opinion | conformity | donor | cooperation | pressure | debate | feed
 * params: { agents: 1000, graph: complete, steps: 1000, epsilon: 0.2 }
 * sweep: { epsilon: [0.15, 0.19, 0.22, 0.25, 0.3] }   # a grid over parameters (optional)
 * seeds: 1..10                       # "a..b" inclusive, a list, or one seed (default 0)
 * every: 10                          # metrics every k steps besides the end (optional)
 * model: { spec: "llama:model.gguf", threads: 1 }      # model-driven dynamics only
 * survey: { suite: opinionqa, data: ../opinionqa, question: ..., attribute: ... }
 * budget: { max_calls: 5000, max_tokens: 2000000 }
 * steer: { method: linear, a: 0.5 }                  # llama: models only (src/sim/steer.ts)
 * population: { attributes: [POLPARTY, SEX], wave: W26 }   # agents drawn from the survey (src/sim/population.ts)
 * measure: { every: 5, questions: [SAFECRIME_W26], by: POLPARTY }   # persona fidelity and drift (src/sim/measure.ts)
 * ```
 *
 * Parameters common to every dynamics: `agents` (N; required unless the graph is an edge-list
 * file), `graph` (a `graphFromSpec` string, default `complete`), `steps` (required: the step
 * limit; converging dynamics stop earlier) and `graph_seed` (fixes a random graph across seeds).
 * Each dynamics adds its own (`DYNAMICS[name].params`). A parameter is set in `params`, swept in
 * `sweep`, or both (the sweep wins); a required one must be in one of them.
 */
import path from "node:path";
import { parseDocument, type Document } from "yaml";
import { z } from "zod";
import { CivitasError, messageOf } from "../errors.js";
import { readText } from "../files.js";
import { SUITES } from "../surveys/index.js";
import { dynamicsByName } from "./dynamics/index.js";
import { parseSeeds, type ParamValue, type Sweep } from "./sweep.js";
import type { MeasureSection } from "./measure.js";
import type { PopulationSection } from "./population.js";
import type { SteerSection } from "./steer.js";
import type { DynamicsFactory, Params } from "./types.js";

// ---------------------------------------------------------------------------------------------
// The dynamics a scenario can name, and their parameters

export const DYNAMICS_NAMES = ["degroot", "hk", "deffuant", "voter", "opinion", "conformity", "donor", "cooperation", "pressure", "debate", "feed"] as const;
export type DynamicsName = (typeof DYNAMICS_NAMES)[number];

export interface ParamSpec {
  readonly type: "number" | "integer" | "string" | "boolean";
  readonly required?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** min is exclusive (> min). */
  readonly exclusiveMin?: boolean;
  /** A string parameter's allowed values. */
  readonly choices?: readonly string[];
  /** The default the dynamics applies when the parameter is not given (documentation only). */
  readonly default?: ParamValue;
  readonly doc: string;
}

export interface DynamicsEntry {
  readonly name: DynamicsName;
  /** One line: the model and its reference. */
  readonly title: string;
  /** "rule": agents follow an update rule (no model); "model": agents ask a language model. */
  readonly kind: "rule" | "model";
  /** Its own parameters (besides COMMON_PARAMS). */
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** What its `metrics` reports (`<k>`: one per option, strategy, number of peers...), `steps` added by the engine; summaries list them in this order. */
  readonly metrics: readonly string[];
  /** Builds the dynamics for one simulation. Loaded on demand (model-driven agents pull in more code). */
  readonly factory: () => Promise<DynamicsFactory>;
}

/** Parameters every dynamics takes. */
export const COMMON_PARAMS: Readonly<Record<string, ParamSpec>> = {
  agents: { type: "integer", min: 1, doc: "N, the number of agents (required unless graph is file:..., whose node count it must then match)" },
  graph: {
    type: "string",
    default: "complete",
    doc: "who interacts with whom: complete, er:k=10, er:p=0.01, ws:k=4,beta=0.1, ba:m=3, lattice, torus, file:<edge list>",
  },
  steps: { type: "integer", min: 0, required: true, doc: "step limit, in sweeps of N updates; a run stops earlier when the dynamics converges" },
  graph_seed: { type: "integer", min: 0, doc: "seed of a random graph (default: each run's seed, so every seed gets its own graph)" },
};

const LLM_SHARE: ParamSpec = {
  type: "number",
  min: 0,
  max: 1,
  doc: "share of agents, drawn at random, that ask the model; the others follow the scenario's rule (default 1 with a model, else 0)",
};
const TOLERANCE: ParamSpec = { type: "number", min: 0, default: 1e-3, doc: "opinions closer than this count as one (consensus, clusters)" };
const OPINION_METRICS = ["consensus", "clusters", "largest", "mean", "spread", "steps"] as const;

/**
 * Model-driven scenarios live in src/sim/agents/ (exported there as `AGENT_SCENARIOS:
 * Record<string, DynamicsFactory>`). They are loaded on demand, by a specifier TypeScript does not
 * follow, so that rule-based runs do not load them, and a build without them still runs the
 * rule-based dynamics (naming an agent scenario is then a clear error).
 */
export const AGENTS_MODULE = "./agents/index.js";

async function agentFactory(name: DynamicsName): Promise<DynamicsFactory> {
  let mod: { AGENT_SCENARIOS?: unknown };
  try {
    mod = (await import(new URL(AGENTS_MODULE, import.meta.url).href)) as { AGENT_SCENARIOS?: unknown };
  } catch (e) {
    throw new CivitasError("usage", `dynamics ${name} (model-driven agents) is not available in this build: ${messageOf(e)}`, {
      hint: `the rule-based dynamics are ${DYNAMICS_NAMES.filter((d) => DYNAMICS[d].kind === "rule").join(", ")}`,
      cause: e,
    });
  }
  const table = mod.AGENT_SCENARIOS as Record<string, unknown> | undefined;
  const factory = table?.[name];
  if (typeof factory !== "function") {
    throw new CivitasError("usage", `dynamics ${name} is not among the model-driven scenarios of this build (${Object.keys(table ?? {}).join(", ") || "none"})`);
  }
  return factory as DynamicsFactory;
}

const rule = (name: string) => async (): Promise<DynamicsFactory> => {
  const d = dynamicsByName[name];
  if (d === undefined) throw new CivitasError("usage", `no rule-based dynamics ${name}`);
  return () => d;
};

export const DYNAMICS: Readonly<Record<DynamicsName, DynamicsEntry>> = {
  degroot: {
    name: "degroot",
    title: "DeGroot averaging (DeGroot 1974): everyone moves to the mean of itself and its neighbours",
    kind: "rule",
    params: {
      tolerance: TOLERANCE,
      threshold: { type: "number", min: 0, default: 1e-12, doc: "converged when no opinion moved more than this in a step" },
    },
    metrics: OPINION_METRICS,
    factory: rule("degroot"),
  },
  hk: {
    name: "hk",
    title: "Hegselmann-Krause bounded confidence (2002): everyone moves to the mean of those within epsilon",
    kind: "rule",
    params: {
      epsilon: { type: "number", min: 0, required: true, doc: "confidence bound: agents hear opinions within epsilon of their own" },
      tolerance: TOLERANCE,
      threshold: { type: "number", min: 0, default: 1e-12, doc: "converged when no opinion moved more than this in a step" },
    },
    metrics: OPINION_METRICS,
    factory: rule("hk"),
  },
  deffuant: {
    name: "deffuant",
    title: "Deffuant-Weisbuch bounded confidence (2000): random pairs within epsilon move towards each other by mu",
    kind: "rule",
    params: {
      epsilon: { type: "number", min: 0, required: true, doc: "confidence bound: a pair interacts when its opinions differ by less than epsilon" },
      mu: { type: "number", min: 0, exclusiveMin: true, max: 0.5, default: 0.5, doc: "convergence parameter: each moves mu of the way towards the other" },
      tolerance: TOLERANCE,
      threshold: { type: "number", min: 0, default: 1e-6, doc: "converged when no opinion moved more than this in a sweep" },
    },
    metrics: OPINION_METRICS,
    factory: rule("deffuant"),
  },
  voter: {
    name: "voter",
    title: "Voter model (Clifford-Sudbury 1973, Holley-Liggett 1975): a random agent copies a random neighbour",
    kind: "rule",
    params: {
      x0: { type: "number", min: 0, max: 1, default: 0.5, doc: "initial share of agents holding opinion 1" },
    },
    metrics: ["consensus", "clusters", "fraction", "time", "steps"],
    factory: rule("voter"),
  },
  // ---- model-driven (src/sim/agents/; see AGENTS_MODULE) ----
  // Their parameters as src/sim/agents/*.ts read them; the survey's question, attribute and
  // populations reach them as params too (from `survey`, not `params`).
  opinion: {
    name: "opinion",
    title: "a survey question spreading over a network of personas: each asks the model, seeing its neighbours' answers",
    kind: "model",
    params: {
      llm_share: LLM_SHARE,
      init: { type: "string", choices: ["human", "model"], default: "human", doc: "initial answers: drawn from each group's real answers, or asked of the model once" },
    },
    metrics: ["share_<k>", "polarization", "bimodality", "clusters", "consensus", "changed", "tv_population", "tv_overall", "steps"],
    factory: () => agentFactory("opinion"),
  },
  conformity: {
    name: "conformity",
    title: "Asch-style peer pressure: agents answer again after k peers unanimously gave another answer",
    kind: "model",
    params: {
      llm_share: LLM_SHARE,
      max_peers: { type: "integer", min: 1, max: 1000, default: 5, doc: "K: agents are asked under k = 1 .. K unanimous peers" },
      target: { type: "string", choices: ["lowest", "next"], default: "lowest", doc: "the peers' answer: the option the model ranked lowest, or the one after the agent's own" },
      answer: { type: "string", choices: ["mode", "sample"], default: "mode", doc: "an agent's answer: the model's most likely option, or drawn from its distribution" },
      rule_threshold: { type: "number", min: 0, default: 3, doc: "rule-based agents conform from this many peers" },
    },
    metrics: ["switch_rate", "switch_rate_<k>", "peer_mass_<k>", "correct_<k>", "consensus", "clusters", "steps"],
    factory: () => agentFactory("conformity"),
  },
  donor: {
    name: "donor",
    title: "the donor game with reputations and cultural selection (Vallinder and Hughes 2024); a step is a generation",
    kind: "model",
    params: {
      llm_share: LLM_SHARE,
      rounds: { type: "integer", min: 1, default: 10, doc: "rounds per generation" },
      endowment: { type: "number", min: 0, exclusiveMin: true, default: 10, doc: "resources of every agent at the start of a generation" },
      multiplier: { type: "number", min: 0, default: 2, doc: "the recipient receives this many times the gift" },
      noise: { type: "number", min: 0, max: 1, default: 0.05, doc: "rule-based agents' noise on the share they give" },
      mutation: { type: "number", min: 0, max: 1, default: 0.05, doc: "change of a copied rule-based agent's generosity" },
      temperature: { type: "number", min: 0, default: 1, doc: "sampling temperature of the model's decisions" },
      max_tokens: { type: "integer", min: 1, default: 4, doc: "tokens the model may write per decision" },
    },
    metrics: ["cooperation", "resources", "unparsed", "llm_share", "strategy_<k>", "generosity", "consensus", "clusters", "steps"],
    factory: () => agentFactory("donor"),
  },
  cooperation: {
    name: "cooperation",
    title: "the donor game over generations with strategies the agents write, and costly punishment (Vallinder and Hughes 2024); a step is a generation",
    kind: "model",
    params: {
      llm_share: LLM_SHARE,
      rounds: { type: "integer", min: 1, doc: "rounds per game (default: the number of agents, the paper's round robin and its reversal)" },
      games: { type: "integer", min: 1, max: 2, default: 2, doc: "games per generation; game 2 swaps every pair's roles" },
      endowment: { type: "number", min: 0, exclusiveMin: true, default: 10, doc: "units of every agent at the start of a game" },
      multiplier: { type: "number", min: 0, default: 2, doc: "the recipient receives this many times the units given up" },
      punishment: { type: "boolean", default: false, doc: "costly punishment: a donor may spend x units to take punishment_loss x from the recipient" },
      punishment_loss: { type: "number", min: 0, default: 2, doc: "units a punished recipient loses per unit the donor spends" },
      mutation: { type: "number", min: 0, max: 1, default: 0.05, doc: "change of a copied rule-based strategy's numbers" },
      temperature: { type: "number", min: 0, default: 1, doc: "sampling temperature of the model's strategies and decisions" },
      max_tokens: { type: "integer", min: 1, default: 200, doc: "tokens the model may write per decision (justification and answer)" },
      strategy_tokens: { type: "integer", min: 1, default: 300, doc: "tokens the model may write per strategy" },
    },
    metrics: ["donation", "resources", "punish_rate", "unparsed", "strategy_words", "llm_share", "consensus", "clusters", "steps"],
    factory: () => agentFactory("cooperation"),
  },
  pressure: {
    name: "pressure",
    title: "one agent answers after k peers' answers, unanimous, split or adversarial with reasons (after KAIROS, Song et al. 2025)",
    kind: "model",
    params: {
      llm_share: LLM_SHARE,
      max_peers: { type: "integer", min: 1, max: 1000, default: 6, doc: "K: agents are asked under k = 1 .. K peers" },
      mode: { type: "string", choices: ["unanimous", "split", "adversarial"], default: "unanimous", doc: "the peers: all give the target; ceil(k/2) the target and the rest the agent's own answer; all the target, each with a reason" },
      target: { type: "string", choices: ["lowest", "highest", "next"], default: "lowest", doc: "the peers' answer: the other option the model ranked lowest, highest, or the one after the agent's own" },
      answer: { type: "string", choices: ["mode", "sample"], default: "mode", doc: "an agent's answer: the model's most likely option, or drawn from its distribution" },
      rule_threshold: { type: "number", min: 0, default: 3, doc: "rule-based agents switch when this many peers give the target" },
    },
    metrics: ["switch_rate", "switch_rate_<k>", "switch_group_<k>", "peer_mass_<k>", "correct_<k>", "consensus", "clusters", "steps"],
    factory: () => agentFactory("pressure"),
  },
  debate: {
    name: "debate",
    title: "groups with opposing personas discuss a survey question in rounds of free text, then answer it (src/sim/agents/debate.ts)",
    kind: "model",
    params: {
      llm_share: LLM_SHARE,
      partners: { type: "string", choices: ["rooms", "graph"], default: "rooms", doc: "who reads whom each round: rooms drawn across groups, or graph neighbours" },
      room_size: { type: "integer", min: 2, default: 4, doc: "agents per debate room at most (partners: rooms)" },
      max_tokens: { type: "integer", min: 1, default: 48, doc: "tokens the model may write per message" },
      temperature: { type: "number", min: 0, default: 0.7, doc: "sampling temperature of the messages" },
      memory_tokens: { type: "integer", min: 0, default: 400, doc: "token budget of each agent's memory (estimated, 4 characters a token; src/sim/memory.ts)" },
      epsilon: { type: "number", min: 0, default: 0.4, doc: "rule-based agents move towards partners within this distance on the [0, 1] scale (0.4: neighbouring options of a 4- or 5-point scale, not farther)" },
      mu: { type: "number", min: 0, max: 1, default: 0.5, doc: "rule-based agents' step towards those partners' mean" },
      range: { type: "number", min: 0, max: 1, default: 0.5, doc: "central share of a group's real answers that counts as its range (in_range, adherence); 0.5: the interquartile range" },
    },
    metrics: ["position", "change", "shift_<k>", "tv_start_<k>", "tv_<k>", "tv_population", "in_range", "in_range_<k>", "adherence", "memory_tokens", "steps"],
    factory: () => agentFactory("debate"),
  },
  feed: {
    name: "feed",
    title: "a social network feed (OASIS, S^3): agents read ranked posts, like, repost, follow, unfollow, post; attitudes by bounded confidence or the model",
    kind: "model",
    params: {
      llm_share: LLM_SHARE,
      active_share: { type: "number", min: 0, max: 1, default: 0.1, doc: "share of agents active in a step (each drawn independently)" },
      feed_size: { type: "integer", min: 1, max: 100, default: 5, doc: "posts an active agent is shown" },
      ranking: { type: "string", choices: ["recency", "popularity", "follows", "mix"], default: "mix", doc: "how the feed ranks posts (src/sim/feed/ranking.ts)" },
      w_follows: { type: "number", min: 0, default: 1, doc: "mix: weight of 'the reader follows the author'" },
      w_popularity: { type: "number", min: 0, default: 1, doc: "mix: weight of log10(max(likes, 1))" },
      w_recency: { type: "number", min: 0, default: 0.5, doc: "mix: penalty per step of age" },
      window: { type: "integer", min: 1, default: 5, doc: "posts stay in feeds for this many steps" },
      post_prob: { type: "number", min: 0, max: 1, default: 0.3, doc: "probability that an active agent writes a post" },
      like_max: { type: "number", min: 0, max: 1, default: 0.5, doc: "rule-based: like probability of a post of one's own stance" },
      repost_share: { type: "number", min: 0, max: 1, default: 0.2, doc: "rule-based: probability of reposting a post one liked" },
      follow_prob: { type: "number", min: 0, max: 1, default: 0.1, doc: "rule-based: probability of following the author of a post one liked" },
      unfollow_prob: { type: "number", min: 0, max: 1, default: 0.1, doc: "rule-based: probability of unfollowing a distant followee one was shown" },
      unfollow_distance: { type: "number", min: 0, max: 1, default: 0.5, doc: "rule-based: a followee's post farther than this may be unfollowed" },
      epsilon: { type: "number", min: 0, max: 1, default: 0.3, doc: "rule-based: confidence bound of the attitude update" },
      mu: { type: "number", min: 0, max: 1, default: 0.2, doc: "rule-based: how far an attitude moves towards the posts within epsilon" },
      like_minded: { type: "number", min: 0, max: 1, default: 0.25, doc: "an exposure is like-minded when reader and post are within this on [0, 1]" },
      herd_likes: { type: "integer", min: 0, default: 5, doc: "initial likes of the posts seeded high (half the originals, at random); the others get 0" },
      herd: { type: "number", min: 0, default: 0, doc: "rule-based: how much the likes shown raise the like probability" },
      measure_every: { type: "integer", min: 1, default: 1, doc: "model-driven agents answer the survey question every k steps" },
      memory: { type: "integer", min: 0, max: 100, default: 6, doc: "lines of what a model-driven agent read and wrote that its prompts show" },
      post_tokens: { type: "integer", min: 1, max: 512, default: 24, doc: "tokens a model-driven agent's post may have" },
      temperature: { type: "number", min: 0, default: 1, doc: "sampling temperature of model-written posts" },
      follow_slack: { type: "integer", min: 0, default: 32, doc: "an agent follows at most its initial count plus this many" },
    },
    metrics: [
      "polarization", "bimodality", "mean_attitude", "echo_chamber", "echo_baseline", "cascade_mean", "cascade_max", "cascade_share2",
      "herd_high", "herd_low", "herd_effect", "posts", "reposts", "active", "exposures", "likes", "follows", "unfollows", "empty_posts", "followees", "steps",
    ],
    factory: () => agentFactory("feed"),
  },
};

/** All parameters a dynamics takes, common ones first. */
export function paramSpecs(dynamics: DynamicsName): Readonly<Record<string, ParamSpec>> {
  return { ...COMMON_PARAMS, ...DYNAMICS[dynamics].params };
}

// ---------------------------------------------------------------------------------------------
// The scenario

export interface ModelSection {
  /** A model as `civitas eval --model` takes it: llama:<file.gguf>, openai:<model>, ollama:..., vllm:... */
  readonly spec: string;
  readonly threads?: number;
  readonly parallel?: number;
  readonly context_size?: number;
  readonly gpu?: "auto" | false;
  readonly base_url?: string;
  readonly concurrency?: number;
  /** Seconds per request attempt. */
  readonly timeout?: number;
  readonly retries?: number;
}

export interface SurveySection {
  readonly suite: string;
  /** A local copy of the suite's files (resolved against the scenario's folder). */
  readonly data?: string;
  readonly question?: string;
  readonly attribute?: string;
  readonly populations?: readonly string[];
}

export interface Budget {
  /** Model calls (cache hits are free) this invocation may make; 0: answer only from the cache. */
  readonly max_calls?: number;
  /** Prompt tokens the model may evaluate in this invocation. */
  readonly max_tokens?: number;
}

export interface Scenario {
  /** The file it was read from, as given (for messages). */
  readonly source: string;
  readonly name: string;
  readonly description?: string;
  readonly dynamics: DynamicsName;
  /** Fixed parameters (a swept one may also appear here; the sweep wins). Paths resolved against the file's folder. */
  readonly params: Params;
  readonly sweep: Sweep;
  readonly seeds: readonly number[];
  readonly every?: number;
  readonly model?: ModelSection;
  readonly survey?: SurveySection;
  readonly budget?: Budget;
  /** Steers the model-driven agents (Linear Alignment, persona prompt against plain prompt; src/sim/steer.ts). */
  readonly steer?: SteerSection;
  /** Agents drawn from a survey's joint distribution of attributes (model-driven scenarios; src/sim/population.ts). */
  readonly population?: PopulationSection;
  /** Persona fidelity and drift: the model-driven agents answer survey questions at chosen steps (src/sim/measure.ts). */
  readonly measure?: MeasureSection;
  /** Where each parameter was last set ("params.epsilon", "sweep.epsilon", "--set epsilon"), for errors found at run time. */
  readonly origin: Readonly<Record<string, string>>;
}

const TOP_KEYS = ["name", "description", "dynamics", "params", "sweep", "seeds", "every", "model", "survey", "budget", "steer", "population", "measure"] as const;

const scalar = z.union([z.number(), z.string(), z.boolean()], { error: "expected a number, a string or true/false" });
const posInt = (what = "an integer >= 1") => z.int({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const nonNegInt = z.int({ error: "expected an integer >= 0" }).min(0, { error: "expected an integer >= 0" });

const MODEL_SCHEMA = z.strictObject({
  spec: z.string({ error: "expected a model such as llama:model.gguf or openai:gpt-4o-mini" }).min(1, { error: "expected a model such as llama:model.gguf" }),
  threads: posInt().optional(),
  parallel: posInt().optional(),
  context_size: posInt().optional(),
  gpu: z.union([z.literal("auto"), z.literal(false)], { error: 'expected "auto" or false' }).optional(),
  base_url: z.url({ error: "expected a URL such as http://localhost:8000/v1" }).optional(),
  concurrency: posInt().optional(),
  timeout: z.number({ error: "expected a number of seconds > 0" }).positive({ error: "expected a number of seconds > 0" }).optional(),
  retries: nonNegInt.optional(),
  api_key: z.unknown().optional(),
});

const SURVEY_SCHEMA = z.strictObject({
  suite: z.enum(
    SUITES.map((s) => s.name),
    { error: `expected one of ${SUITES.map((s) => s.name).join(", ")}` },
  ),
  data: z.string({ error: "expected a path" }).optional(),
  question: z.string({ error: "expected a question id" }).optional(),
  attribute: z.string({ error: "expected an attribute name such as POLPARTY" }).optional(),
  populations: z.union([z.string(), z.array(z.string())], { error: "expected a population or a list of them" }).optional(),
});

const STEER_SCHEMA = z.strictObject(
  {
    method: z.literal("linear", { error: 'expected "linear" (Linear Alignment: the persona prompt decoded against the plain prompt)' }),
    a: z.number({ error: "expected a number a >= 0 (Linear Alignment's strength; 0 is the persona prompt alone)" }).min(0, { error: "expected a number a >= 0 (0 is the persona prompt alone)" }).finite({ error: "expected a finite number" }),
  },
  { error: "expected a mapping such as { method: linear, a: 0.5 }" },
);

const POPULATION_SCHEMA = z.strictObject(
  {
    attributes: z.array(z.string({ error: "expected an attribute name" }).trim().min(1, { error: "expected an attribute name" }), { error: "expected a list of attributes such as [POLPARTY, SEX]" }).min(1, { error: "expected at least one attribute" }),
    wave: z.string({ error: "expected an OpinionQA wave such as W26" }).optional(),
    file: z.string({ error: "expected a path to a CSV file of individual records" }).optional(),
    weight: z.string({ error: "expected the name of the file's weight column" }).optional(),
    draw: z.enum(["quota", "iid"], { error: "expected quota or iid" }).optional(),
  },
  { error: "expected a mapping such as { attributes: [POLPARTY, SEX] }" },
);

const MEASURE_SCHEMA = z.strictObject(
  {
    every: posInt(),
    questions: z.union([z.array(z.string({ error: "expected a question id" })), posInt("a count >= 1 or a list of question ids")], { error: "expected a list of question ids or a count" }),
    by: z.string({ error: "expected an attribute name such as POLPARTY" }).trim().min(1, { error: "expected an attribute name such as POLPARTY" }),
    suite: z.enum(
      SUITES.map((s) => s.name),
      { error: `expected one of ${SUITES.map((s) => s.name).join(", ")}` },
    ).optional(),
    data: z.string({ error: "expected a path" }).optional(),
  },
  { error: "expected a mapping such as { every: 5, questions: [SAFECRIME_W26], by: POLPARTY }" },
);

const TOP_SCHEMA = z.strictObject({
  name: z.string({ error: "expected a name" }).trim().min(1, { error: "expected a name" }),
  description: z.string({ error: "expected text" }).optional(),
  dynamics: z.enum(DYNAMICS_NAMES, { error: `expected one of ${DYNAMICS_NAMES.join(", ")}` }),
  params: z.record(z.string(), scalar, { error: "expected a mapping of parameter names to values" }).default({}),
  sweep: z
    .record(z.string(), z.array(scalar, { error: "expected a list of values" }).min(1, { error: "expected at least one value" }), {
      error: "expected a mapping of parameter names to lists of values",
    })
    .optional(),
  seeds: z.union([z.string(), z.int(), z.array(z.int({ error: "expected an integer seed" }))], { error: 'expected a range "1..20", a list [1, 2, 3] or one seed' }).optional(),
  every: posInt().optional(),
  model: MODEL_SCHEMA.optional(),
  survey: SURVEY_SCHEMA.optional(),
  budget: z.strictObject({ max_calls: nonNegInt.optional(), max_tokens: nonNegInt.optional() }, { error: "expected a mapping with max_calls and/or max_tokens" }).optional(),
  steer: STEER_SCHEMA.optional(),
  population: POPULATION_SCHEMA.optional(),
  measure: MEASURE_SCHEMA.optional(),
});

const VALID_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": TOP_KEYS,
  model: Object.keys(MODEL_SCHEMA.shape).filter((k) => k !== "api_key"),
  survey: Object.keys(SURVEY_SCHEMA.shape),
  budget: ["max_calls", "max_tokens"],
  steer: Object.keys(STEER_SCHEMA.shape),
  population: Object.keys(POPULATION_SCHEMA.shape),
  measure: Object.keys(MEASURE_SCHEMA.shape),
};

/** "params.epsilon", "sweep.mu[1]", "" for the top level. */
export function fieldPath(p: readonly PropertyKey[]): string {
  let out = "";
  for (const k of p) out += typeof k === "number" ? `[${k}]` : `${out === "" ? "" : "."}${String(k)}`;
  return out;
}

const shown = (v: unknown): string => {
  const s = v === undefined ? "nothing" : typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** One line per problem, each naming the file and the field. */
function problems(source: string, lines: readonly string[]): CivitasError {
  return new CivitasError("input", lines.map((l) => `${source}: ${l}`).join("\n"), {
    hint: "docs/simulate.md describes the scenario format; examples/hk.yaml is a complete example",
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = fieldPath(issue.path);
  const at = where === "" ? "" : `${where}: `;
  if (issue.code === "unrecognized_keys") {
    const valid = VALID_KEYS[where] ?? [];
    const keys = issue.keys.map((k) => (where === "" ? k : `${where}.${k}`));
    if (where === "model" && issue.keys.includes("api_key")) return "model.api_key: keys do not belong in a scenario file (it is stored with the run); set OPENAI_API_KEY";
    return `${keys.join(", ")}: unknown field${keys.length > 1 ? "s" : ""} (valid: ${valid.join(", ")})`;
  }
  const input = "input" in issue ? issue.input : undefined;
  // a missing field (parsed with reportInput, a present one always carries its input)
  if (input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value" || issue.code === "invalid_union")) return `${at}required`;
  const message = issue.message.startsWith("Invalid input: expected")
    ? `expected ${issue.message.slice("Invalid input: expected ".length).replace(/, received.*$/u, "")}`
    : issue.message;
  return `${at}${message}${input === undefined ? "" : `, got ${shown(input)}`}`;
}

// ---------------------------------------------------------------------------------------------
// Parameters

function paramSchema(spec: ParamSpec): z.ZodType<ParamValue> {
  switch (spec.type) {
    case "string":
      return spec.choices === undefined
        ? z.string({ error: "expected a string" })
        : z.enum(spec.choices as [string, ...string[]], { error: `expected one of ${spec.choices.join(", ")}` });
    case "boolean":
      return z.boolean({ error: "expected true or false" });
    case "number":
    case "integer": {
      const range =
        `${spec.min === undefined ? "" : ` ${spec.exclusiveMin ? ">" : ">="} ${spec.min}`}` +
        `${spec.min !== undefined && spec.max !== undefined ? " and" : ""}${spec.max === undefined ? "" : ` <= ${spec.max}`}`;
      const what = `expected ${spec.type === "integer" ? "an integer" : "a number"}${range}`;
      let s = spec.type === "integer" ? z.int({ error: what }) : z.number({ error: what });
      if (spec.min !== undefined) s = spec.exclusiveMin ? s.gt(spec.min, { error: what }) : s.gte(spec.min, { error: what });
      if (spec.max !== undefined) s = s.lte(spec.max, { error: what });
      return s;
    }
  }
}

const GRAPH_KINDS = ["complete", "er", "ws", "ba", "lattice", "torus", "file"] as const;

/**
 * Checks one parameter value; returns the value (a file: graph made absolute against `base`) or
 * a problem line (without the file name).
 */
function checkParam(dynamics: DynamicsName, name: string, value: unknown, field: string, base: string): { value: ParamValue } | { problem: string } {
  const spec = paramSpecs(dynamics)[name];
  if (spec === undefined) {
    const survey = ["question", "attribute", "populations"].includes(name) && DYNAMICS[dynamics].kind === "model" ? `; the survey's ${name} goes in survey.${name}` : "";
    return { problem: `${field}: unknown parameter of ${dynamics} (valid: ${Object.keys(paramSpecs(dynamics)).join(", ")})${survey}` };
  }
  const r = paramSchema(spec).safeParse(value, { reportInput: true });
  if (!r.success) return { problem: `${field}: ${r.error.issues[0]!.message}, got ${shown(value)}` };
  if (name === "graph" && typeof r.data === "string") {
    const colon = r.data.indexOf(":");
    const kind = (colon < 0 ? r.data : r.data.slice(0, colon)).trim().toLowerCase();
    if (!(GRAPH_KINDS as readonly string[]).includes(kind)) {
      return { problem: `${field}: unknown graph "${r.data}" (one of complete, er:k=10, er:p=0.01, ws:k=4,beta=0.1, ba:m=3, lattice, torus, file:<path>)` };
    }
    if (kind === "file") {
      const file = r.data.slice(colon + 1).trim();
      if (file === "") return { problem: `${field}: file: needs a path to an edge list` };
      return { value: `file:${path.resolve(base, file)}` };
    }
  }
  return { value: r.data };
}

/** Problems of a set of parameters taken together: required ones present, agents given unless the graph is a file. */
function checkRequired(s: { dynamics: DynamicsName; params: Params; sweep: Sweep }): string[] {
  const out: string[] = [];
  const swept = new Set(s.sweep.map(([n]) => n));
  const has = (n: string) => n in s.params || swept.has(n);
  for (const [name, spec] of Object.entries(paramSpecs(s.dynamics))) {
    if (spec.required && !has(name)) out.push(`params.${name}: required for ${s.dynamics} (${spec.doc}); set it in params or sweep it`);
  }
  if (!has("agents")) {
    const graphs = [s.params.graph, ...(s.sweep.find(([n]) => n === "graph")?.[1] ?? [])].filter((g) => g !== undefined);
    if (graphs.length === 0 || graphs.some((g) => !String(g).startsWith("file:"))) out.push(`params.agents: required (N, the number of agents), unless the graph is file:<edge list>`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Parses a scenario from its text. `source` names the file in errors and anchors its relative paths. */
export function parseScenario(text: string, source: string): Scenario {
  let doc;
  try {
    doc = parseDocument(text, { uniqueKeys: true });
  } catch (e) {
    throw problems(source, [`not readable as YAML or JSON (${messageOf(e).split("\n")[0]!})`]);
  }
  if (doc.errors.length > 0) {
    throw problems(
      source,
      doc.errors.slice(0, 5).map((e) => {
        const pos = e.linePos?.[0];
        return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ""}${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/u, "")}`;
      }),
    );
  }
  const raw = yamlValue(doc, (why) => problems(source, [why]));
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw problems(source, [`expected a mapping with ${TOP_KEYS.filter((k) => k !== "description").join(", ")}; got ${raw === null || raw === undefined ? "an empty file" : shown(raw)}`]);
  }
  const parsed = TOP_SCHEMA.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw problems(source, parsed.error.issues.map(describeIssue));
  const top = parsed.data;
  const base = path.dirname(path.resolve(source));
  const lines: string[] = [];
  const dynamics = top.dynamics;
  const entry = DYNAMICS[dynamics];

  const params: Record<string, ParamValue> = {};
  const origin: Record<string, string> = {};
  for (const [name, value] of Object.entries(top.params)) {
    const r = checkParam(dynamics, name, value, `params.${name}`, base);
    if ("problem" in r) lines.push(r.problem);
    else {
      params[name] = r.value;
      origin[name] = `params.${name}`;
    }
  }
  const sweep: [string, ParamValue[]][] = [];
  for (const [name, values] of Object.entries(top.sweep ?? {})) {
    const ok: ParamValue[] = [];
    values.forEach((v, i) => {
      const r = checkParam(dynamics, name, v, `sweep.${name}[${i}]`, base);
      if ("problem" in r) lines.push(r.problem.replace(/^sweep\.(\w+)\[\d+\]: unknown parameter/u, "sweep.$1: unknown parameter"));
      else ok.push(r.value);
    });
    if (new Set(ok.map((v) => JSON.stringify(v))).size !== ok.length) lines.push(`sweep.${name}: a value is listed twice`);
    sweep.push([name, ok]);
    origin[name] = `sweep.${name}`;
  }
  const uniqueLines = [...new Set(lines)];
  if (uniqueLines.length > 0) throw problems(source, uniqueLines);
  if (!("graph" in params) && !sweep.some(([n]) => n === "graph")) params.graph = "complete";

  const required = checkRequired({ dynamics, params, sweep });
  if (entry.kind === "rule") {
    for (const field of ["model", "survey", "budget", "steer", "population", "measure"] as const) {
      if (top[field] !== undefined) required.push(`${field}: ${dynamics} is rule-based and asks no model (the model-driven dynamics are ${modelDriven().join(", ")})`);
    }
  }
  if (top.measure !== undefined && top.measure.suite === undefined && top.survey === undefined) required.push("measure.suite: required when the scenario has no survey");
  if (entry.kind === "model" && top.steer !== undefined && top.model === undefined) required.push("steer: steering needs a model (model: { spec: llama:<file.gguf> })");
  if (top.model?.api_key !== undefined) required.push("model.api_key: keys do not belong in a scenario file (it is stored with the run); set OPENAI_API_KEY");
  if (required.length > 0) throw problems(source, required);

  let seeds: number[] = [0];
  if (top.seeds !== undefined) {
    try {
      seeds = parseSeeds(top.seeds, "seeds");
    } catch (e) {
      throw problems(source, [messageOf(e)]);
    }
  }
  const { api_key: _omit, ...model } = top.model ?? { spec: "" };
  const survey: SurveySection | undefined =
    top.survey === undefined
      ? undefined
      : {
          suite: top.survey.suite,
          ...(top.survey.data === undefined ? {} : { data: path.resolve(base, top.survey.data) }),
          ...(top.survey.question === undefined ? {} : { question: top.survey.question }),
          ...(top.survey.attribute === undefined ? {} : { attribute: top.survey.attribute }),
          ...(top.survey.populations === undefined
            ? {}
            : { populations: typeof top.survey.populations === "string" ? top.survey.populations.split(",").map((p) => p.trim()).filter(Boolean) : top.survey.populations }),
        };
  return {
    source,
    name: top.name,
    ...(top.description === undefined ? {} : { description: top.description }),
    dynamics,
    params,
    sweep,
    seeds,
    ...(top.every === undefined ? {} : { every: top.every }),
    ...(top.model === undefined ? {} : { model: model as ModelSection }),
    ...(survey === undefined ? {} : { survey }),
    ...(top.budget === undefined ? {} : { budget: top.budget }),
    ...(top.steer === undefined ? {} : { steer: top.steer }),
    ...(top.population === undefined
      ? {}
      : {
          population: {
            attributes: top.population.attributes,
            ...(top.population.wave === undefined ? {} : { wave: top.population.wave }),
            ...(top.population.file === undefined ? {} : { file: path.resolve(base, top.population.file) }),
            ...(top.population.weight === undefined ? {} : { weight: top.population.weight }),
            ...(top.population.draw === undefined ? {} : { draw: top.population.draw }),
          },
        }),
    ...(top.measure === undefined
      ? {}
      : {
          measure: {
            every: top.measure.every,
            questions: top.measure.questions,
            by: top.measure.by,
            ...(top.measure.suite === undefined ? {} : { suite: top.measure.suite }),
            ...(top.measure.data === undefined ? {} : { data: path.resolve(base, top.measure.data) }),
          },
        }),
    origin,
  };
}

/** Aliases a document may expand (the yaml library's default): a scenario needs a handful. */
const MAX_ALIASES = 100;

/**
 * A YAML document's value. Aliases (`*name`) that expand beyond MAX_ALIASES (a "billion laughs"
 * file, which would take all memory) and anything else the library refuses are the file's fault.
 */
export function yamlValue(doc: Document.Parsed, fail: (why: string) => CivitasError): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    if (/alias/iu.test(messageOf(e))) throw fail(`its aliases (*name) expand too much (more than ${MAX_ALIASES}: a "billion laughs" file?); write the values out instead`);
    throw fail(`not readable as YAML or JSON (${messageOf(e).split("\n")[0]!})`);
  }
}

/** Reads and validates a scenario file (.yaml, .yml or .json). */
export async function loadScenario(file: string): Promise<Scenario> {
  const text = await readText(file, "scenario file", {
    hint: "examples/hk.yaml, examples/deffuant.yaml, examples/voter.yaml and examples/degroot.yaml are complete scenarios",
  });
  return parseScenario(text, file);
}

/** The model-driven dynamics' names. */
export function modelDriven(): DynamicsName[] {
  return DYNAMICS_NAMES.filter((d) => DYNAMICS[d].kind === "model");
}

// ---------------------------------------------------------------------------------------------
// Command-line overrides

/** A parameter set on the command line (`--set NAME=VALUE`, parsed by src/cli/set.ts). */
export interface ParamOverride {
  readonly name: string;
  /** A number, text or true/false; a list sweeps the parameter. */
  readonly value: unknown;
}

export interface ScenarioOverrides {
  /** `--seeds`: "1..20", "1,2,3" or "7". */
  readonly seeds?: string;
  /**
   * Parameters to set, in order, and the folder their relative paths (a `graph: file:...`) are
   * resolved against: the command's working folder for `--set`.
   */
  readonly set?: { readonly params: readonly ParamOverride[]; readonly base: string };
  /** `--model SPEC`: replaces the scenario's model (its other options stay). */
  readonly model?: string;
  readonly maxCalls?: number;
  readonly maxTokens?: number;
}

/**
 * Applies command-line flags over a scenario. A `--set` of a swept parameter fixes it (the sweep
 * over it is dropped); a `--set` with a list sweeps it. Errors name the flag (usage errors).
 */
export function applyOverrides(s: Scenario, o: ScenarioOverrides): Scenario {
  const params: Record<string, ParamValue> = { ...s.params };
  let sweep: [string, readonly ParamValue[]][] = s.sweep.map(([n, v]) => [n, v]);
  const origin: Record<string, string> = { ...s.origin };
  const usage = (message: string, hint?: string) => new CivitasError("usage", message, hint === undefined ? {} : { hint });
  const base = o.set?.base ?? "";
  for (const { name, value } of o.set?.params ?? []) {
    const flag = `--set ${name}`;
    if (Array.isArray(value)) {
      if (value.length === 0) throw usage(`${flag}: an empty list sweeps nothing`);
      const values = value.map((v, i) => {
        const r = checkParam(s.dynamics, name, v, `${flag}[${i}]`, base);
        if ("problem" in r) throw usage(r.problem);
        return r.value;
      });
      if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) throw usage(`${flag}: a value is listed twice`);
      delete params[name];
      const at = sweep.findIndex(([n]) => n === name);
      if (at >= 0) sweep[at] = [name, values];
      else sweep.push([name, values]);
    } else {
      const r = checkParam(s.dynamics, name, value, flag, base);
      if ("problem" in r) throw usage(r.problem);
      params[name] = r.value;
      sweep = sweep.filter(([n]) => n !== name);
    }
    origin[name] = flag;
  }
  const missing = checkRequired({ dynamics: s.dynamics, params, sweep });
  if (missing.length > 0) throw usage(`${s.source}: ${missing[0]}`);

  const seeds = o.seeds === undefined ? s.seeds : parseSeeds(o.seeds, "--seeds");
  const entry = DYNAMICS[s.dynamics];
  const ruleOnly = (flag: string) => usage(`${flag}: ${s.dynamics} is rule-based and asks no model (the model-driven dynamics are ${modelDriven().join(", ")})`);
  let model = s.model;
  if (o.model !== undefined) {
    if (entry.kind === "rule") throw ruleOnly("--model");
    if (o.model.trim() === "") throw usage("--model: expected a model such as llama:model.gguf");
    model = { ...(s.model ?? {}), spec: o.model.trim() };
  }
  let budget = s.budget;
  if (o.maxCalls !== undefined || o.maxTokens !== undefined) {
    if (entry.kind === "rule") throw ruleOnly(o.maxCalls !== undefined ? "--max-calls" : "--max-tokens");
    budget = { ...(s.budget ?? {}), ...(o.maxCalls === undefined ? {} : { max_calls: o.maxCalls }), ...(o.maxTokens === undefined ? {} : { max_tokens: o.maxTokens }) };
  }
  const { model: _m, budget: _b, ...rest } = s;
  return {
    ...rest,
    params,
    sweep,
    seeds,
    origin,
    ...(model === undefined ? {} : { model }),
    ...(budget === undefined ? {} : { budget }),
  };
}
