/**
 * The `feed` scenario's rule-based parts, against values worked out by hand: feed ranking on a
 * hand-made network (and the fast top-k against a brute-force sort of every candidate), cascade
 * sizes, the echo-chamber index, polarization of constructed attitudes, the herd effect on a
 * constructed log, and one deterministic world whose every like, repost and exposure is known.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { seededRng } from "../../src/metrics/index.js";
import { createFeed, feedMetrics, type FeedState } from "../../src/sim/agents/feed.js";
import {
  addPost,
  cascades,
  cascadeSizes,
  createFollowGraph,
  createPostLog,
  echoChamberIndex,
  follow,
  follows,
  globalOrder,
  herdEffect,
  likeMinded,
  likeMindedBaseline,
  nearestOption,
  postScore,
  rankFeed,
  RANKINGS,
  unfollow,
  type PostLog,
  type RankingSpec,
} from "../../src/sim/feed/index.js";
import { completeGraph, csrFromEdges } from "../../src/sim/graph.js";
import type { AgentPopulation, Graph, Params, StepContext } from "../../src/sim/types.js";
import { loadOpinionQA, type Suite } from "../../src/surveys/index.js";
import { OPINIONQA } from "../helpers/paths.js";

const spec = (ranking: RankingSpec["ranking"], o: Partial<RankingSpec> = {}): RankingSpec => ({ ranking, wFollows: 1, wPopularity: 1, wRecency: 0.5, window: 3, ...o });

function feedOf(s: RankingSpec, log: PostLog, last: Int32Array, g: ReturnType<typeof createFollowGraph>, reader: number, now: number, size: number): number[] {
  const out = new Int32Array(size);
  const k = rankFeed(s, log, last, g, globalOrder(s, log, now), reader, now, size, out);
  return [...out.subarray(0, k)];
}

describe("feed ranking on a hand-made network", () => {
  // Agents 0..3; agent 0 follows agent 1. Posts (id: author, step written, likes):
  //   p0: 1, 1, 0    p1: 2, 2, 10    p2: 3, 3, 1    p3: 0, 3, 100 (the reader's own)    p4: 2, 4, 0 (written at now: not yet readable)
  const log = createPostLog();
  const last = new Int32Array(4).fill(-1);
  for (const [author, created, likes] of [[1, 1, 0], [2, 2, 10], [3, 3, 1], [0, 3, 100], [2, 4, 0]] as const) {
    const p = addPost(log, last, { author, created, stance: 0.5, root: -1, seed: 0 });
    log.likes[p] = likes;
  }
  const g = createFollowGraph(4, 4);
  follow(g, 0, 1);
  const now = 4;

  it("recency: newest first, the reader's own and unreadable posts left out", () => {
    assert.deepEqual(feedOf(spec("recency"), log, last, g, 0, now, 2), [2, 1]);
    assert.deepEqual(feedOf(spec("recency"), log, last, g, 0, now, 10), [2, 1, 0]);
  });
  it("popularity: most liked first", () => {
    assert.deepEqual(feedOf(spec("popularity"), log, last, g, 0, now, 2), [1, 2]);
  });
  it("follows: the followees' posts first, then the newest", () => {
    assert.deepEqual(feedOf(spec("follows"), log, last, g, 0, now, 2), [0, 2]);
    // agent 3 follows no one: recency
    assert.deepEqual(feedOf(spec("follows"), log, last, g, 3, now, 2), [3, 1]);
  });
  it("mix: w_f F + w_p log10(max(likes, 1)) - w_r age, ties to the newer post", () => {
    // p0: 1 + 0 - 0.5*3 = -0.5; p1: 0 + 1 - 0.5*2 = 0; p2: 0 + 0 - 0.5*1 = -0.5 (tie with p0: p2 is newer)
    assert.deepEqual(feedOf(spec("mix"), log, last, g, 0, now, 3), [1, 2, 0]);
    assert.equal(postScore(spec("mix"), log, 0, now, true), -0.5);
    assert.equal(postScore(spec("mix"), log, 1, now, false), 0);
    assert.equal(postScore(spec("mix"), log, 2, now, false), -0.5);
    // w_f = 2: p0 = 0.5 beats p1 = 0, although p0 is last by the shared score (found through the followees)
    assert.deepEqual(feedOf(spec("mix", { wFollows: 2 }), log, last, g, 0, now, 1), [0]);
    // w_f = 0 is the hot score: log10(max(likes,1)) - w_r age
    assert.deepEqual(feedOf(spec("mix", { wFollows: 0 }), log, last, g, 0, now, 3), [1, 2, 0]);
  });
  it("the window: posts older than `window` steps drop out", () => {
    assert.deepEqual(feedOf(spec("follows", { window: 2 }), log, last, g, 0, now, 3), [2, 1]);
  });
  it("the fast top-k equals a sort of every candidate by the full score (random networks, every ranking)", () => {
    const rng = seededRng(7);
    for (let trial = 0; trial < 40; trial++) {
      const n = 12;
      const lg = createPostLog(16);
      const la = new Int32Array(n).fill(-1);
      for (let step = 0; step < 9; step++) {
        const k = rng.int(0, 8);
        for (let j = 0; j < k; j++) {
          const p = addPost(lg, la, { author: rng.int(0, n - 1), created: step, stance: rng.float(), root: -1, seed: 0 });
          lg.likes[p] = rng.int(0, 3) === 0 ? 0 : rng.int(0, 40);
        }
      }
      const fg = createFollowGraph(n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && rng.float() < 0.25) follow(fg, i, j);
      for (const ranking of RANKINGS) {
        const s = spec(ranking, { window: rng.int(1, 5), wFollows: rng.int(0, 3) * 0.5, wRecency: rng.int(0, 4) * 0.25 });
        for (let reader = 0; reader < n; reader++) {
          const size = rng.int(1, 6);
          const want: { p: number; score: number }[] = [];
          for (let p = 0; p < lg.count; p++) {
            if (lg.created[p]! >= 9 || lg.created[p]! < 9 - s.window || lg.author[p] === reader) continue;
            want.push({ p, score: postScore(s, lg, p, 9, follows(fg, reader, lg.author[p]!)) });
          }
          want.sort((a, b) => b.score - a.score || b.p - a.p);
          assert.deepEqual(feedOf(s, lg, la, fg, reader, 9, size), want.slice(0, size).map((w) => w.p), `${ranking}, trial ${trial}, reader ${reader}`);
        }
      }
    }
  });
  it("follow rows: at most cap followees, unfollow fills the gap", () => {
    const fg = createFollowGraph(3, 1);
    assert.equal(follow(fg, 0, 1), true);
    assert.equal(follow(fg, 0, 2), false); // full
    assert.equal(follow(fg, 1, 1), false); // oneself
    assert.equal(unfollow(fg, 0, 2), false);
    assert.equal(unfollow(fg, 0, 1), true);
    assert.equal(follows(fg, 0, 1), false);
    assert.equal(follow(fg, 0, 2), true);
  });
});

describe("feed metrics on constructed logs", () => {
  it("cascade sizes: an original and all its reposts, reposts of reposts included", () => {
    // p0 original; p1 original; p2 reposts p0; p3 reposts p2 (root p0); p4 original; p5 reposts p1; p6 reposts p0
    const root = Int32Array.from([0, 1, 0, 0, 4, 1, 0]);
    assert.deepEqual([...cascadeSizes(root, 7)], [4, 2, 0, 0, 1, 0, 0]);
    const c = cascades(root, 7);
    assert.equal(c.cascades, 3);
    assert.equal(c.mean, 7 / 3);
    assert.equal(c.max, 4);
    assert.equal(c.share2, 2 / 3);
    assert.ok(Number.isNaN(cascades(root, 0).mean));
  });
  it("echo-chamber index: the share of exposures within like_minded of the reader", () => {
    // |0 - 0.2| = 0.2 yes; |0.25 - 0.75| = 0.5 no; |1 - 1| = 0 yes; |0.5 - 0| = 0.5 no; |0.5 - 0.75| = 0.25 yes (the bound counts)
    assert.equal(echoChamberIndex([0, 0.25, 1, 0.5, 0.5], [0.2, 0.75, 1, 0, 0.75], 0.25), 3 / 5);
    assert.equal(likeMinded(0.5, 0.75, 0.25), true);
    assert.equal(likeMinded(0.5, 0.7500001, 0.25), false);
    assert.ok(Number.isNaN(echoChamberIndex([], [], 0.25)));
    // pairs of [0, 0.1, 0.5, 0.6, 1] within 0.25: (0, 0.1) and (0.5, 0.6): 2 of 10
    assert.equal(likeMindedBaseline([0.6, 0, 1, 0.1, 0.5], 0.25), 2 / 10);
    assert.equal(likeMindedBaseline([0.3, 0.3, 0.3], 0), 1);
  });
  it("herd effect: likes given per exposure, originals seeded high vs low, reposts left out", () => {
    // p0 high (seed 5, likes 8: 3 given, 6 exposures); p1 low (1 given, 4); p2 a repost of p0 (ignored);
    // p3 high (seed 5, likes 6: 1 given, 4); p4 low (2 given, 6). high = 4/10, low = 3/10.
    const log = {
      count: 5,
      root: Int32Array.from([0, 1, 0, 3, 4]),
      seed: Int32Array.from([5, 0, 0, 5, 0]),
      likes: Int32Array.from([8, 1, 10, 6, 2]),
      exposures: Int32Array.from([6, 4, 10, 4, 6]),
    };
    const h = herdEffect(log);
    assert.equal(h.high, 0.4);
    assert.equal(h.low, 0.3);
    assert.ok(Math.abs(h.effect - 0.1) < 1e-12); // 0.4 - 0.3 in doubles
    assert.ok(Number.isNaN(herdEffect({ ...log, count: 0 }).high));
  });
  it("an attitude reads as the nearest option, the lower one on a tie", () => {
    const pos = [0, 0.25, 0.5, 0.75, 1];
    assert.equal(nearestOption(0.125, pos), 0);
    assert.equal(nearestOption(0.6, pos), 2);
    assert.equal(nearestOption(0.99, pos), 4);
  });
});

describe("feed worlds without a model", () => {
  let suite: Suite;
  before(async () => {
    suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
  });
  const base: Params = { question: "SAFECRIME_W26", attribute: "POLPARTY", llm_share: 0 };
  const ctx = (graph: Graph, params: Params, step: number, rng = seededRng(1)): StepContext => ({ graph, params, rng, step, seed: 1 });

  it("polarization and bimodality of constructed attitudes, as opinion computes them", async () => {
    const graph = completeGraph(4);
    const params = { ...base, agents: 4, steps: 1 };
    const d = createFeed(params, { suite });
    const st = (await d.init(ctx(graph, params, 0))) as FeedState;
    const pos = d.setup.positions!;
    assert.equal(pos[0], 0);
    assert.equal(pos[pos.length - 1], 1);
    // two agents at each end: variance 1/4, the maximum: polarization 1. Bimodality with n = 4:
    // m2 = 1/4, m3 = 0, m4 = 1/16, g2 = -2, G2 = ((n+1) g2 + 6)(n-1)/((n-2)(n-3)) = -6,
    // BC = (0 + 1) / (-6 + 3 (n-1)^2/((n-2)(n-3))) = 1 / 7.5.
    st.x.set([0, 1, 0, 1]);
    let m = feedMetrics(st, d.setup, d.params);
    assert.equal(m.polarization, 1);
    assert.ok(Math.abs(m.bimodality! - 2 / 15) < 1e-12);
    assert.equal(m.mean_attitude, 0.5);
    assert.equal(m.echo_baseline, 2 / 6);
    // everyone at one option: no polarization
    st.x.fill(pos[1]! + 0.01);
    m = feedMetrics(st, d.setup, d.params);
    assert.equal(m.polarization, 0);
    assert.equal(m.echo_baseline, 1);
  });

  it("a deterministic world: every like, repost and exposure as worked out by hand", async () => {
    // A path 0 - 1 - 2, everyone active, all at the same attitude (d = 0: like with probability 1),
    // every liked post reposted, no new originals, no follows. One original p0 by agent 0 at step 0.
    // Step 1: agents 1 and 2 see p0, like it and repost it (p1 by 1, p2 by 2): likes p0 = 2.
    // Step 2 (recency: p2, p1, p0): agent 0 sees p2, p1 and likes both (reposting its own
    // original is refused); agent 1 sees p2 (likes it; root already reposted) and p0 (liked
    // already); agent 2 sees p1 (likes it) and p0 (liked already).
    const graph = csrFromEdges(3, Int32Array.from([0, 1]), Int32Array.from([1, 2]), 2);
    const params = {
      ...base, agents: 3, steps: 2, active_share: 1, like_max: 1, repost_share: 1, follow_prob: 0, unfollow_prob: 0,
      post_prob: 0, herd_likes: 0, ranking: "recency", window: 10, feed_size: 5,
    };
    const d = createFeed(params, { suite });
    const rng = seededRng(3);
    const st = (await d.init(ctx(graph, params, 0, rng))) as FeedState;
    st.x.fill(0.5);
    addPost(st.posts, st.lastByAuthor, { author: 0, created: 0, stance: 0.5, root: -1, seed: 0 });
    await d.step(st, ctx(graph, params, 0, rng));
    assert.equal(st.posts.count, 3);
    assert.deepEqual([...st.posts.author.subarray(0, 3)], [0, 1, 2]);
    assert.deepEqual([...st.posts.root.subarray(0, 3)], [0, 0, 0]);
    assert.equal(st.posts.likes[0], 2);
    await d.step(st, ctx(graph, params, 1, rng));
    const p = st.posts;
    assert.equal(p.count, 3, "no repost of one's own original or of an original reposted already");
    assert.deepEqual([...p.likes.subarray(0, 3)], [2, 2, 2]);
    assert.deepEqual([...p.exposures.subarray(0, 3)], [4, 2, 2]);
    const m = feedMetrics(st, d.setup, d.params);
    assert.deepEqual(
      { cascade_mean: m.cascade_mean, cascade_max: m.cascade_max, cascade_share2: m.cascade_share2, posts: m.posts, reposts: m.reposts, likes: m.likes, exposures: m.exposures, echo_chamber: m.echo_chamber, active: m.active },
      { cascade_mean: 3, cascade_max: 3, cascade_share2: 1, posts: 1, reposts: 2, likes: 4, exposures: 6, echo_chamber: 1, active: 3 },
    );
    assert.deepEqual([...st.x], [0.5, 0.5, 0.5], "bounded confidence towards posts of one's own stance moves no one");
    assert.deepEqual([...st.follows.count], [1, 2, 1], "the path's follows, none added or dropped");
  });

  it("bounded confidence: an attitude moves mu of the way to the mean of the posts within epsilon", async () => {
    // Attitudes 0.3, 0.2, 0.9, 0.4; posts p0 by 0 (stance 0.3), p1 by 2 (0.9), p2 by 3 (0.4); epsilon 0.3, mu 0.5.
    // Agent 1 (0.2) reads p0, p1, p2; within epsilon: p0 (+0.1), p2 (+0.2): x1 = 0.2 + 0.5 * 0.15 = 0.275.
    // Agent 0 (0.3) reads p1 (no), p2 (+0.1): 0.35. Agent 2 (0.9) reads p0, p2: both beyond epsilon: 0.9.
    // Agent 3 (0.4) reads p0 (-0.1), p1 (no): 0.35.
    const graph = completeGraph(4);
    const params = { ...base, agents: 4, steps: 1, active_share: 1, like_max: 0, post_prob: 0, unfollow_prob: 0, epsilon: 0.3, mu: 0.5, ranking: "recency" };
    const d = createFeed(params, { suite });
    const rng = seededRng(5);
    const st = (await d.init(ctx(graph, params, 0, rng))) as FeedState;
    st.x.set([0.3, 0.2, 0.9, 0.4]);
    addPost(st.posts, st.lastByAuthor, { author: 0, created: 0, stance: 0.3, root: -1, seed: 0 });
    addPost(st.posts, st.lastByAuthor, { author: 2, created: 0, stance: 0.9, root: -1, seed: 0 });
    addPost(st.posts, st.lastByAuthor, { author: 3, created: 0, stance: 0.4, root: -1, seed: 0 });
    await d.step(st, ctx(graph, params, 0, rng));
    // tolerance: a few additions and one halving of doubles, each off by at most an ulp (~1e-16)
    const want = [0.35, 0.275, 0.9, 0.35];
    want.forEach((w, i) => assert.ok(Math.abs(st.x[i]! - w) < 1e-12, `agent ${i}: ${st.x[i]} != ${w}`));
    assert.equal(feedMetrics(st, d.setup, d.params).likes, 0);
  });

  it("is seeded: the same seed gives the same run at 2,000 agents, another seed another", async () => {
    const { simulate } = await import("../../src/sim/engine.js");
    const { erdosRenyi } = await import("../../src/sim/graph.js");
    const graph = erdosRenyi(2000, { meanDegree: 8 }, 1);
    const params = { ...base, agents: 2000, steps: 6, herd: 0.5 };
    const run = (seed: number) => simulate(createFeed(params, { suite }), { graph, params, seed, every: 3 });
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    assert.deepEqual(a.series, b.series);
    assert.notDeepEqual(a.final, c.final);
    assert.ok(a.final.posts! > 0 && a.final.reposts! > 0 && a.final.exposures! > 0);
  });

  it("agents(): personas and attributes of the survey groups, or of the population", async () => {
    const graph = completeGraph(3);
    const params = { ...base, agents: 3, steps: 1 };
    const d = createFeed(params, { suite });
    const st = (await d.init(ctx(graph, params, 0))) as FeedState;
    const agents = d.agents!(st);
    assert.equal(agents.length, 3);
    agents.forEach((a, i) => {
      const g = d.setup.groups[st.group[i]!]!;
      assert.equal(a.llm, false);
      assert.equal(a.memory, "");
      assert.deepEqual(a.attributes, { POLPARTY: g.population!.value });
      assert.equal(a.persona, g.persona.text);
      assert.ok(a.persona.length > 0);
    });
    const population: AgentPopulation = {
      source: "hand-made",
      attributes: ["POLPARTY", "SEX"],
      agents: [
        { attributes: { POLPARTY: "Democrat", SEX: "Female" }, persona: "I am a woman and a Democrat." },
        { attributes: { POLPARTY: "Republican", SEX: "Male" }, persona: "I am a man and a Republican." },
        { attributes: { SEX: "Male" }, persona: "I am a man." },
      ],
    };
    const dp = createFeed(params, { suite, population });
    const sp = (await dp.init(ctx(graph, params, 0))) as FeedState;
    assert.deepEqual(dp.agents!(sp).map((a) => [a.attributes, a.persona]), population.agents.map((a) => [a.attributes, a.persona]));
    assert.deepEqual([...sp.group], [dp.setup.groups.findIndex((g) => g.population?.value === "Democrat"), dp.setup.groups.findIndex((g) => g.population?.value === "Republican"), -1]);
  });

  it("refuses what it cannot run, naming the parameter", () => {
    const bad = (p: Params) => () => createFeed({ ...base, agents: 3, steps: 1, ...p }, { suite });
    assert.throws(bad({ ranking: "chronological" }), (e: unknown) => e instanceof CivitasError && /ranking must be one of recency, popularity, follows, mix/u.test(e.message));
    assert.throws(bad({ active_share: 2 }), (e: unknown) => e instanceof CivitasError && /active_share/u.test(e.message));
    assert.throws(bad({ llm_share: 0.5 }), (e: unknown) => e instanceof CivitasError && /llm_share = 0.5 needs a model/u.test(e.message));
  });
});
