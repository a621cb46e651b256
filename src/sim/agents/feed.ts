/**
 * `feed`: a social network in the manner of OASIS (Yang et al. 2024, "OASIS: Open Agent Social
 * Interaction Simulations with One Million Agents", arXiv:2411.11581) and S^3 (Gao et al. 2023,
 * "S^3: Social-network Simulation System with Large Language Model-Empowered Agents",
 * arXiv:2307.14984): agents hold an attitude on a survey question, read a ranked feed of each
 * other's posts, like, repost, follow and unfollow, write posts, and are measured every k steps.
 *
 * World. Agents are the groups of `survey.attribute` in their real shares with their personas
 * (`surveySetup`, as `opinion`), or the scenario's `population:` (deps.population: each agent's
 * attributes and persona; its initial attitude then comes from the group of `survey.attribute`
 * its attributes name, else from the population's mixture). Each agent's attitude x is a
 * position on [0, 1] (the question's scored options at their ordinal positions, normalised; the
 * question must be ordinal), starting at an answer drawn from its group's real distribution. The
 * follow graph starts from the scenario's graph: an agent follows its neighbours (its
 * out-neighbours in a directed graph); it follows at most its initial count + `follow_slack`.
 * A share `llm_share` of the agents, drawn at random, decide through the model; the others
 * follow the rules below.
 *
 * A step (now = 1, 2, ...: the step being computed). Each agent is active with probability
 * `active_share` (one draw per agent, in order). Every active agent opens its feed: the
 * `feed_size` best posts by `ranking` among those written in the last `window` steps (see
 * src/sim/feed/ranking.ts: recency, popularity, follows, mix), its own left out; all feeds are
 * computed from the state at the start of the step (so a post is readable from the step after
 * it was written). Then every active agent, in agent order, acts on each post of its feed, best
 * first (each post shown is one exposure):
 *
 * Rule-based agent i, attitude x_i, post p of stance s_p, d = |x_i - s_p|, L_p the likes shown:
 *   - likes p with probability min(1, like_max * (1 - d) * (1 + herd * log10(1 + L_p))) (at most
 *     once per post: a like of a post it liked already is not counted);
 *   - having liked it: reposts it with probability `repost_share` (at most once per original,
 *     never its own), and follows its author (the reposter, for a repost) with probability
 *     `follow_prob` if it does not yet;
 *   - not having liked it: unfollows its author with probability `unfollow_prob` if it follows
 *     it and d > `unfollow_distance`;
 *   - then its attitude moves by bounded confidence (Deffuant et al. 2000, one-sided):
 *     x_i += mu * mean(s_p - x_i) over the posts shown with d < epsilon (unchanged if none);
 *   - and it writes an original post with probability `post_prob`, of stance x_i.
 * Model-driven agent i (in the same order): for each post of its feed it is asked
 *
 *     <persona>\n\n
 *     What you read and wrote lately:\n- user 12 posted: "..." (3 likes)\n- you posted: "..."\n\n
 *     You are on a social network. In your feed, user 7 posted: "<text>" (4 likes)\n\n
 *     What do you do?\nA. Like it\nB. Repost it\nC. Follow user 7\nD. Nothing\nAnswer:
 *
 * ("Unfollow user 7" when it follows 7; a repost reads "user 7 reposted user 3: ..."), and one
 * action is drawn from the model's distribution over A-D (nothing when it puts no mass on them).
 * With probability `post_prob` (drawn before the calls) it writes a post: `complete` on
 * "<persona>\n\n<memory>You are on a social network. Write a short post about this question:
 * <question text>\nPost:" (temperature `temperature`, up to `post_tokens` tokens, a seed from the
 * run's RNG), its first line (up to 280 characters) is the post, of stance x_i (an empty one is
 * not posted and is counted in `empty_posts`). Its memory is the last `memory` lines of what it
 * read and wrote, as its prompts show them. A rule-based agent's post reads
 * `On "<question text>" I would answer: <option>.` (the option nearest its stance).
 * Every `measure_every` steps (now divisible by it), every model-driven agent is asked the
 * survey question with its persona and memory (<persona>\n\n<memory><the standard prompt>, the
 * prompt of `civitas eval --persona` when its memory is empty); its answer is drawn from the
 * model's distribution and becomes its attitude. Model-driven attitudes change only then.
 * All the calls of a step (measurements, then each active agent's post actions and post, in
 * agent order) are issued together, before any agent changes; then the answers are applied in
 * agent order with the run's RNG, so a replay of the record is bit-identical.
 *
 * Herd effect: every original post gets `herd_likes` initial likes with probability 1/2, else 0
 * (a draw per post at its creation), as OASIS's replication of Muchnik et al. (2013).
 *
 * Metrics (src/sim/feed/metrics.ts): `polarization` and `bimodality` of the measured answers
 * (model-driven agents: their last measured answer; rule-based: the option nearest their
 * attitude; as `opinion` computes them), `mean_attitude`; `echo_chamber`, the share of the last
 * step's exposures that were like-minded (|x_reader - s_post| <= `like_minded`), and
 * `echo_baseline`, the share of like-minded pairs of agents; `cascade_mean`, `cascade_max`,
 * `cascade_share2` over every original so far (size = the original and all its reposts);
 * `herd_high`, `herd_low`, `herd_effect` (likes given per exposure of originals seeded high vs
 * low, and their difference); `posts`, `reposts` (so far); `active`, `exposures`, `likes`,
 * `follows`, `unfollows`, `empty_posts` (the last step); `followees` (mean followed per agent).
 * Never converges before the step limit.
 */
import { CivitasError } from "../../errors.js";
import { numberParam } from "../engine.js";
import {
  addPost,
  cascades,
  createFollowGraph,
  createPostLog,
  follow,
  follows,
  globalOrder,
  herdEffect,
  likeMinded,
  likeMindedBaseline,
  nearestOption,
  rankFeed,
  RANKINGS,
  unfollow,
  type FollowGraph,
  type PostLog,
  type RankingSpec,
} from "../feed/index.js";
import { neighborsOf } from "../graph.js";
import type { Dynamics, DynamicsDeps, Graph, MeasuredAgent, Params, SimModel } from "../types.js";
import {
  assignGroups,
  bimodalityCoefficient,
  choiceParam,
  chooseModelAgents,
  drawIndex,
  llmShareParam,
  polarization,
  scoredDistribution,
  surveySetup,
  type SurveySetup,
} from "./opinion.js";

/** An implicit complete graph is expanded into follow lists up to this many agents. */
const MAX_COMPLETE = 5000;
const ACTION_LABELS = ["A", "B", "C", "D"] as const;
const MAX_POST_CHARS = 280;

export interface FeedParams {
  readonly llmShare: number;
  readonly activeShare: number;
  readonly feedSize: number;
  readonly ranking: RankingSpec;
  readonly postProb: number;
  readonly likeMax: number;
  readonly repostShare: number;
  readonly followProb: number;
  readonly unfollowProb: number;
  readonly unfollowDistance: number;
  readonly epsilon: number;
  readonly mu: number;
  readonly likeMindedC: number;
  readonly herdLikes: number;
  readonly herd: number;
  readonly measureEvery: number;
  readonly memory: number;
  readonly postTokens: number;
  readonly temperature: number;
  readonly followSlack: number;
}

export interface FeedState {
  readonly n: number;
  /** Attitude of each agent on [0, 1]. */
  readonly x: Float64Array;
  /** Measured answer (a scored index) of each model-driven agent; -1 for rule-based ones. */
  readonly answer: Int32Array;
  /** Survey group of each agent (-1: the population's mixture). */
  readonly group: Int32Array;
  readonly llm: Uint8Array;
  readonly posts: PostLog;
  readonly lastByAuthor: Int32Array;
  readonly follows: FollowGraph;
  /** (post, agent) likes and (original, agent) reposts given, as post * n + agent. */
  readonly liked: Set<number>;
  readonly reposted: Set<number>;
  /** Texts of the originals model-driven agents wrote, by post id. */
  readonly texts: Map<number, string>;
  /** Each model-driven agent's memory lines, oldest first. */
  readonly memory: Map<number, string[]>;
  readonly personas: readonly string[];
  readonly attributes: readonly Readonly<Record<string, string>>[];
  last: { active: number; exposures: number; likeMinded: number; likes: number; follows: number; unfollows: number; emptyPosts: number };
}

export interface FeedDynamics extends Dynamics<FeedState> {
  readonly setup: SurveySetup;
  readonly params: FeedParams;
}

export function feedParams(params: Params, model: SimModel | undefined): FeedParams {
  const p = (name: string, spec: Parameters<typeof numberParam>[2]) => numberParam(params, name, spec);
  const share = { min: 0, max: 1 };
  return {
    llmShare: llmShareParam("feed", params, model),
    activeShare: p("active_share", { default: 0.1, ...share }),
    feedSize: p("feed_size", { default: 5, min: 1, max: 100, integer: true }),
    ranking: {
      ranking: choiceParam(params, "ranking", RANKINGS, "mix"),
      wFollows: p("w_follows", { default: 1, min: 0 }),
      wPopularity: p("w_popularity", { default: 1, min: 0 }),
      wRecency: p("w_recency", { default: 0.5, min: 0 }),
      window: p("window", { default: 5, min: 1, integer: true }),
    },
    postProb: p("post_prob", { default: 0.3, ...share }),
    likeMax: p("like_max", { default: 0.5, ...share }),
    repostShare: p("repost_share", { default: 0.2, ...share }),
    followProb: p("follow_prob", { default: 0.1, ...share }),
    unfollowProb: p("unfollow_prob", { default: 0.1, ...share }),
    unfollowDistance: p("unfollow_distance", { default: 0.5, min: 0, max: 1 }),
    epsilon: p("epsilon", { default: 0.3, min: 0, max: 1 }),
    mu: p("mu", { default: 0.2, min: 0, max: 1 }),
    likeMindedC: p("like_minded", { default: 0.25, min: 0, max: 1 }),
    herdLikes: p("herd_likes", { default: 5, min: 0, integer: true }),
    herd: p("herd", { default: 0, min: 0 }),
    measureEvery: p("measure_every", { default: 1, min: 1, integer: true }),
    memory: p("memory", { default: 6, min: 0, max: 100, integer: true }),
    postTokens: p("post_tokens", { default: 24, min: 1, max: 512, integer: true }),
    temperature: p("temperature", { default: 1, min: 0 }),
    followSlack: p("follow_slack", { default: 32, min: 0, integer: true }),
  };
}

/** The follow graph a world starts from: each agent follows its (out-)neighbours. */
export function initialFollows(graph: Graph, slack: number): FollowGraph {
  const n = graph.n;
  const implicit = graph.kind === "complete" && graph.neighbors.length === 0;
  if (implicit && n > MAX_COMPLETE) {
    throw new CivitasError("usage", `scenario feed: a complete graph of ${n} agents would make everyone follow everyone (${n} x ${n - 1} follows)`, {
      hint: `use a sparse graph (er:k=10, ba:m=3, ws:k=4,beta=0.1) above ${MAX_COMPLETE} agents`,
    });
  }
  let maxDeg = 0;
  for (let v = 0; v < n; v++) maxDeg = Math.max(maxDeg, implicit ? n - 1 : graph.offsets[v + 1]! - graph.offsets[v]!);
  const g = createFollowGraph(n, maxDeg + slack);
  for (let v = 0; v < n; v++) {
    const nb = neighborsOf(graph, v);
    for (let k = 0; k < nb.length; k++) follow(g, v, nb[k]!);
  }
  return g;
}

export function createFeed(params: Params, deps: DynamicsDeps): FeedDynamics {
  const setup = surveySetup("feed", params, deps.suite);
  const model = deps.model;
  const fp = feedParams(params, model);
  const positions = setup.positions;
  if (positions === null) {
    throw new CivitasError("usage", `scenario feed: question ${setup.question.id} is nominal (its options have no order); feed needs an ordinal question, its attitudes being positions on the scale`);
  }
  if (setup.groups.some((g) => g.human === null)) {
    throw new CivitasError("usage", `scenario feed: agents start from their group's real answers to ${setup.question.id}, which suite ${setup.suite.name} lacks for some group`, {
      hint: "choose a survey attribute with human answers",
    });
  }
  const population = deps.population;
  const attr = setup.groups[0]!.population?.attribute ?? null;
  const mixture = setup.population ?? setup.reference;
  const question = setup.question;

  const ruleText = (s: number): string => `On "${question.text}" I would answer: ${setup.options[nearestOption(s, positions)]}.`;
  const postText = (st: FeedState, p: number): string => {
    const r = st.posts.root[p]!;
    return st.texts.get(r) ?? ruleText(st.posts.stance[r]!);
  };
  const describe = (st: FeedState, p: number, likes: number): string => {
    const a = st.posts.author[p]!;
    const r = st.posts.root[p]!;
    const who = r === p ? `user ${a} posted` : `user ${a} reposted user ${st.posts.author[r]!}`;
    return `${who}: "${postText(st, p)}" (${likes} like${likes === 1 ? "" : "s"})`;
  };
  const memoryBlock = (st: FeedState, i: number): string => {
    const lines = st.memory.get(i);
    return lines === undefined || lines.length === 0 ? "" : `What you read and wrote lately:\n${lines.map((l) => `- ${l}`).join("\n")}\n\n`;
  };
  const remember = (st: FeedState, i: number, line: string): void => {
    if (fp.memory === 0) return;
    let lines = st.memory.get(i);
    if (lines === undefined) st.memory.set(i, (lines = []));
    lines.push(line);
    if (lines.length > fp.memory) lines.splice(0, lines.length - fp.memory);
  };
  const personaPart = (st: FeedState, i: number): string => {
    const t = st.personas[i]!.trim();
    return t === "" ? "" : `${t}\n\n`;
  };
  const surveyPrompt = (st: FeedState, i: number): string => {
    const g = st.group[i]!;
    return `${personaPart(st, i)}${memoryBlock(st, i)}${g >= 0 && population === undefined ? setup.groups[g]!.rest : setup.groups[0]!.plain}`;
  };
  const actionPrompt = (st: FeedState, i: number, p: number, likes: number, plain: boolean): string => {
    const a = st.posts.author[p]!;
    const f = follows(st.follows, i, a) ? `Unfollow user ${a}` : `Follow user ${a}`;
    return (
      `${plain ? "" : personaPart(st, i)}${memoryBlock(st, i)}You are on a social network. In your feed, ${describe(st, p, likes)}\n\n` +
      `What do you do?\nA. Like it\nB. Repost it\nC. ${f}\nD. Nothing\nAnswer:`
    );
  };
  const writePrompt = (st: FeedState, i: number, plain: boolean): string =>
    `${plain ? "" : personaPart(st, i)}${memoryBlock(st, i)}You are on a social network. Write a short post about this question: ${question.text}\nPost:`;

  const post = (st: FeedState, rng: { float(): number }, author: number, now: number, stance: number): number => {
    const seed = rng.float() < 0.5 ? fp.herdLikes : 0;
    return addPost(st.posts, st.lastByAuthor, { author, created: now, stance, root: -1, seed });
  };
  /** i likes p; false when it had already. */
  const like = (st: FeedState, i: number, p: number): boolean => {
    const key = p * st.n + i;
    if (st.liked.has(key)) return false;
    st.liked.add(key);
    st.posts.likes[p]!++;
    st.last.likes++;
    return true;
  };
  /** i reposts p (its original); false when it is i's own original or i reposted it already. */
  const repost = (st: FeedState, i: number, p: number, now: number): boolean => {
    const r = st.posts.root[p]!;
    const key = r * st.n + i;
    if (st.posts.author[r] === i || st.reposted.has(key)) return false;
    st.reposted.add(key);
    addPost(st.posts, st.lastByAuthor, { author: i, created: now, stance: st.posts.stance[r]!, root: r, seed: 0 });
    return true;
  };

  const dynamics: FeedDynamics = {
    name: "feed",
    update: "synchronous",
    setup,
    params: fp,
    init({ graph, rng }) {
      const n = graph.n;
      let group: Int32Array;
      let personas: string[];
      let attributes: Readonly<Record<string, string>>[];
      if (population !== undefined) {
        if (population.agents.length !== n) {
          throw new CivitasError("usage", `scenario feed: the population has ${population.agents.length} agents but the graph ${n}`);
        }
        group = Int32Array.from(population.agents, (a) => {
          if (setup.groups.length === 1 && setup.groups[0]!.population?.attribute == null) return 0;
          const v = attr === null ? undefined : a.attributes[attr];
          return v === undefined ? -1 : setup.groups.findIndex((g) => g.population?.value === v);
        });
        if (group.some((g) => g < 0) && mixture === null) {
          throw new CivitasError("usage", `scenario feed: some agents of the population have no group of ${attr ?? "survey.attribute"} with answers to ${question.id}, and the survey has no overall distribution to start them from`);
        }
        personas = population.agents.map((a) => a.persona);
        attributes = population.agents.map((a) => a.attributes);
      } else {
        group = assignGroups(n, setup.groups.map((g) => g.weight), rng);
        const byGroup = setup.groups.map((g) => (g.population?.attribute ? { [g.population.attribute]: g.population.value } : {}));
        personas = Array.from(group, (g) => setup.groups[g]!.persona.text);
        attributes = Array.from(group, (g) => byGroup[g]!);
      }
      const llm = chooseModelAgents(n, fp.llmShare, rng);
      const x = new Float64Array(n);
      const answer = new Int32Array(n).fill(-1);
      for (let i = 0; i < n; i++) {
        const g = group[i]!;
        const k = drawIndex(g >= 0 ? setup.groups[g]!.human! : mixture!, rng.float());
        x[i] = positions[k]!;
        if (llm[i]) answer[i] = k;
      }
      const lastByAuthor = new Int32Array(n).fill(-1);
      return {
        n,
        x,
        answer,
        group,
        llm,
        posts: createPostLog(Math.max(1024, n)),
        lastByAuthor,
        follows: initialFollows(graph, fp.followSlack),
        liked: new Set(),
        reposted: new Set(),
        texts: new Map(),
        memory: new Map(),
        personas,
        attributes,
        last: { active: 0, exposures: 0, likeMinded: 0, likes: 0, follows: 0, unfollows: 0, emptyPosts: 0 },
      };
    },
    async step(st, { rng, step }) {
      const now = step + 1;
      const n = st.n;
      const { x, posts, llm } = st;
      // who is active
      const active = new Int32Array(n);
      let na = 0;
      for (let i = 0; i < n; i++) if (rng.float() < fp.activeShare) active[na++] = i;
      // their feeds, from the state at the start of the step
      const size = fp.feedSize;
      const ranked = globalOrder(fp.ranking, posts, now);
      const feeds = new Int32Array(na * size);
      const feedLen = new Int32Array(na);
      const shownLikes = new Int32Array(na * size);
      for (let k = 0; k < na; k++) {
        const len = rankFeed(fp.ranking, posts, st.lastByAuthor, st.follows, ranked, active[k]!, now, size, feeds, k * size);
        feedLen[k] = len;
        for (let m = 0; m < len; m++) shownLikes[k * size + m] = posts.likes[feeds[k * size + m]!]!;
      }
      // model-driven agents: draws, then every call of the step at once
      const measuring = model !== undefined && fp.llmShare > 0 && now % fp.measureEvery === 0;
      const measured: (Promise<{ readonly distribution: number[] }> | null)[] = [];
      const actions: Promise<{ readonly distribution: number[] }>[] = [];
      const writes = new Map<number, Promise<string>>();
      if (model !== undefined && fp.llmShare > 0) {
        if (measuring) {
          for (let i = 0; i < n; i++) {
            if (!llm[i]) continue;
            const prompt = surveyPrompt(st, i);
            const plain = `${memoryBlock(st, i)}${setup.groups[0]!.plain}`;
            measured.push(model.optionDistribution({ prompt, plain, labels: setup.labels, step: now, agent: i }));
          }
        }
        for (let k = 0; k < na; k++) {
          const i = active[k]!;
          if (!llm[i]) continue;
          for (let m = 0; m < feedLen[k]!; m++) {
            const p = feeds[k * size + m]!;
            const likes = shownLikes[k * size + m]!;
            actions.push(model.optionDistribution({ prompt: actionPrompt(st, i, p, likes, false), plain: actionPrompt(st, i, p, likes, true), labels: ACTION_LABELS, step: now, agent: i }));
          }
          if (rng.float() < fp.postProb) {
            const seed = rng.int(0, 2 ** 31 - 1);
            writes.set(i, model.complete({ prompt: writePrompt(st, i, false), plain: writePrompt(st, i, true), maxTokens: fp.postTokens, temperature: fp.temperature, seed, step: now, agent: i }));
          }
        }
      }
      const [measures, acts, texts] = await Promise.all([Promise.all(measured), Promise.all(actions), Promise.all(writes.values())]);
      const written = new Map<number, string>();
      [...writes.keys()].forEach((i, k) => written.set(i, texts[k]!));

      // apply, in agent order
      const last = (st.last = { active: na, exposures: 0, likeMinded: 0, likes: 0, follows: 0, unfollows: 0, emptyPosts: 0 });
      if (measuring) {
        let c = 0;
        for (let i = 0; i < n; i++) {
          if (!llm[i]) continue;
          const d = scoredDistribution(setup, measures[c++]!.distribution);
          const u = rng.float();
          if (d !== null) {
            st.answer[i] = drawIndex(d, u);
            x[i] = positions[st.answer[i]!]!;
          }
        }
      }
      let c = 0;
      for (let k = 0; k < na; k++) {
        const i = active[k]!;
        const xi = x[i]!;
        let sum = 0;
        let cnt = 0;
        for (let m = 0; m < feedLen[k]!; m++) {
          const p = feeds[k * size + m]!;
          const s = posts.stance[p]!;
          posts.exposures[p]!++;
          last.exposures++;
          if (likeMinded(xi, s, fp.likeMindedC)) last.likeMinded++;
          const author = posts.author[p]!;
          const followed = follows(st.follows, i, author);
          if (llm[i]) {
            const dist = acts[c++]!.distribution;
            const u = rng.float();
            const a = dist.some((v) => v > 0) ? drawIndex(dist, u) : 3;
            remember(st, i, describe(st, p, shownLikes[k * size + m]!));
            if (a === 0) like(st, i, p);
            else if (a === 1) repost(st, i, p, now);
            else if (a === 2) {
              if (followed ? unfollow(st.follows, i, author) : follow(st.follows, i, author)) {
                if (followed) last.unfollows++;
                else last.follows++;
              }
            }
            continue;
          }
          const d = Math.abs(xi - s);
          const pl = Math.min(1, fp.likeMax * (1 - d) * (1 + fp.herd * Math.log10(1 + shownLikes[k * size + m]!)));
          if (rng.float() < pl && like(st, i, p)) {
            if (rng.float() < fp.repostShare) repost(st, i, p, now);
            if (!followed && rng.float() < fp.followProb && follow(st.follows, i, author)) last.follows++;
          } else if (followed && d > fp.unfollowDistance && rng.float() < fp.unfollowProb) {
            if (unfollow(st.follows, i, author)) last.unfollows++;
          }
          if (d < fp.epsilon) {
            sum += s - xi;
            cnt++;
          }
        }
        if (llm[i]) {
          const text = written.get(i);
          if (text !== undefined) {
            const clean = cleanPost(text);
            if (clean === "") last.emptyPosts++;
            else {
              const p = post(st, rng, i, now, xi);
              st.texts.set(p, clean);
              remember(st, i, `you posted: "${clean}"`);
            }
          }
        } else {
          if (cnt > 0) x[i] = xi + (fp.mu * sum) / cnt;
          if (rng.float() < fp.postProb) post(st, rng, i, now, x[i]!);
        }
      }
      return false;
    },
    metrics(st) {
      return feedMetrics(st, setup, fp);
    },
    agents(st): MeasuredAgent[] {
      const out: MeasuredAgent[] = [];
      for (let i = 0; i < st.n; i++) {
        const lines = st.memory.get(i);
        out.push({
          attributes: st.attributes[i]!,
          persona: st.personas[i]!,
          llm: st.llm[i] === 1,
          memory: lines === undefined || lines.length === 0 ? "" : memoryBlock(st, i).trimEnd(),
        });
      }
      return out;
    },
  };
  return dynamics;
}

/** A completion as a post: its first non-empty line, trimmed, quotes removed, at most 280 characters. */
export function cleanPost(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.replace(/^["']+|["']+$/gu, "").trim().slice(0, MAX_POST_CHARS);
}

/** The metrics of a feed state (see the module comment). */
export function feedMetrics(st: FeedState, setup: SurveySetup, fp: Pick<FeedParams, "likeMindedC">): Record<string, number> {
  const positions = setup.positions!;
  const counts = new Float64Array(positions.length);
  let sum = 0;
  for (let i = 0; i < st.n; i++) {
    counts[st.llm[i] ? st.answer[i]! : nearestOption(st.x[i]!, positions)]!++;
    sum += st.x[i]!;
  }
  const cas = cascades(st.posts.root, st.posts.count);
  const herd = herdEffect(st.posts);
  let followees = 0;
  for (let i = 0; i < st.n; i++) followees += st.follows.count[i]!;
  const last = st.last;
  return {
    polarization: polarization(counts, positions),
    bimodality: bimodalityCoefficient(counts, positions),
    mean_attitude: st.n > 0 ? sum / st.n : Number.NaN,
    echo_chamber: last.exposures > 0 ? last.likeMinded / last.exposures : Number.NaN,
    echo_baseline: likeMindedBaseline(st.x, fp.likeMindedC),
    cascade_mean: cas.mean,
    cascade_max: cas.max,
    cascade_share2: cas.share2,
    herd_high: herd.high,
    herd_low: herd.low,
    herd_effect: herd.effect,
    posts: cas.cascades,
    reposts: st.posts.count - cas.cascades,
    active: last.active,
    exposures: last.exposures,
    likes: last.likes,
    follows: last.follows,
    unfollows: last.unfollows,
    empty_posts: last.emptyPosts,
    followees: st.n > 0 ? followees / st.n : Number.NaN,
  };
}
