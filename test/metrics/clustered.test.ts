/**
 * The clustered bootstrap (bootstrap.ts): whole clusters resampled, each with all its items, as
 * many as there are. Known answers: an exact case where every resample is listed, and where the
 * clustered interval is wider than the item bootstrap's; singleton clusters give the item
 * bootstrap draw for draw; duplicated items clustered give the bootstrap of the items once; a
 * replay of the seeded draws, with strata. Then MoCa, whose stories are its clusters.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { bootstrapStatistic, clusterMembers } from "../../src/metrics/bootstrap.js";
import { mocaScores, type MoCaItem } from "../../src/metrics/moca.js";
import { seededRng } from "../../src/metrics/rng.js";
import { parsePredictions, scorePredictions } from "../../src/runs/predictions.js";
import { resolveConventions } from "../../src/runs/protocols.js";
import { loadMoCa } from "../../src/surveys/moca.js";
import { assertClose, exactInterval, quantile7, strataGroups } from "../helpers/bootstrap.js";
import { runCli } from "../helpers/cli.js";
import { SHARED, tempDir } from "../helpers/paths.js";
import { readFileSync, writeFileSync } from "node:fs";

const meanOf = (values: readonly number[]) => (s: ArrayLike<number>) => {
  let t = 0;
  for (let k = 0; k < s.length; k++) t += values[s[k]!]!;
  return t / s.length;
};
const width = (ci: readonly [number, number]) => ci[1] - ci[0];

/** The clustered resamples civitas draws for this seed: per resample, per stratum, one cluster draw per cluster, all its items. */
function replayClustered(strata: readonly (readonly number[])[], clusters: readonly (string | number)[], resamples: number, seed: number): number[][] {
  const rng = seededRng(seed);
  const perStratum = strata.map((items) => clusterMembers(clusters, items));
  const out: number[][] = [];
  for (let b = 0; b < resamples; b++) out.push(perStratum.flatMap((cs) => cs.flatMap(() => cs[rng.int(0, cs.length - 1)]!)));
  return out;
}

describe("the clustered bootstrap", () => {
  it("exact case: one story told three times and three told once; the clustered interval is [0, 0.9], wider than the items' [1/6, 5/6], for any seed", () => {
    // Items 0-2 (value 1) are one story, items 3, 4, 5 (value 0) one story each: 4 clusters.
    // Drawing 4 clusters, k of them the big one, k ~ Binomial(4, 1/4): mean 3k / (3k + 4 - k):
    // k = 0: 0 (P 0.316), 1: 0.5, 2: 0.75 (P(k <= 2) = 0.949), 3: 0.9 (P(k <= 3) = 0.996), 4: 1.
    // So the 2.5th percentile is 0 and the 97.5th 0.9. Resampling the 6 items as if independent:
    // k ~ Binomial(6, 1/2) ones, mean k / 6: P(k <= 0) = 0.016, P(k <= 1) = 0.109, P(k <= 4) = 0.891,
    // P(k <= 5) = 0.984: [1/6, 5/6].
    const values = [1, 1, 1, 0, 0, 0];
    const clusters = ["s", "s", "s", "t", "u", "v"];
    const members = clusterMembers(clusters);
    assert.deepEqual(members, [[0, 1, 2], [3], [4], [5]]);
    const clusterStat = (cs: number[]) => meanOf(values)(cs.flatMap((c) => members[c]!));
    const resamples = 20000;
    const exactClustered = exactInterval(strataGroups(4), clusterStat, resamples);
    const exactItems = exactInterval(strataGroups(6), (s) => meanOf(values)(s), resamples);
    assertClose(exactClustered, [0, 0.9], 1e-12, "clustered, listed");
    assertClose(exactItems, [1 / 6, 5 / 6], 1e-12, "items, listed");
    for (const seed of [0, 1, 2]) {
      const [c] = bootstrapStatistic(6, (s) => [meanOf(values)(s)], { seed, resamples, clusters });
      const [i] = bootstrapStatistic(6, (s) => [meanOf(values)(s)], { seed, resamples });
      assert.equal(c!.mean, 0.5);
      assertClose(c!.ci, exactClustered, 1e-12, `clustered, seed ${seed}`);
      assertClose(i!.ci, exactItems, 1e-12, `items, seed ${seed}`);
      assert.ok(width(c!.ci) > width(i!.ci));
    }
  });

  it("with one item per cluster, is the item bootstrap draw for draw (with and without strata)", () => {
    const values = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8];
    const strata = [1, 0, 1, 2, 0, 0, 1];
    const clusters = values.map((_, i) => `q${i}`);
    for (const st of [undefined, strata]) {
      const s = st ? { strata: st } : {};
      const plain = bootstrapStatistic(7, (x) => [meanOf(values)(x), Math.min(...Array.from(x, (i) => values[i]!))], { seed: 4, resamples: 300, ...s });
      const clustered = bootstrapStatistic(7, (x) => [meanOf(values)(x), Math.min(...Array.from(x, (i) => values[i]!))], { seed: 4, resamples: 300, ...s, clusters });
      assert.deepEqual(clustered, plain);
    }
  });

  it("each value told twice, clustered, is the bootstrap of the values told once (same seed); as items it would be about 1/sqrt(2) as wide", () => {
    const once = [0.12, 0.95, 0.4, 0.33, 0.78, 0.05, 0.6, 0.51, 0.27, 0.88];
    const twice = once.flatMap((v) => [v, v]);
    const clusters = once.flatMap((_, i) => [i, i]);
    const [a] = bootstrapStatistic(10, (s) => [meanOf(once)(s)], { seed: 7, resamples: 2000 });
    const [c] = bootstrapStatistic(20, (s) => [meanOf(twice)(s)], { seed: 7, resamples: 2000, clusters });
    const [i] = bootstrapStatistic(20, (s) => [meanOf(twice)(s)], { seed: 7, resamples: 2000 });
    // Same draws, the mean of a pair of equal values: equal up to rounding of the sums.
    assertClose(c!.ci, a!.ci, 1e-12, "clustered twice vs once");
    assertClose(c!.mean, a!.mean, 1e-12, "point");
    // The item bootstrap treats 20 items as independent: the variance of its mean is half, so its
    // interval is about 0.71 as wide (2,000 resamples: the seeded ratio is within 0.6-0.8).
    const ratio = width(i!.ci) / width(c!.ci);
    assert.ok(ratio > 0.6 && ratio < 0.8, String(ratio));
  });

  it("draws, per stratum in order, as many clusters as it has with replacement: a replay of the seeded draws", () => {
    const values = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.45, 0.66];
    const strata = [0, 0, 0, 0, 1, 1, 1, 1, 1];
    const clusters = ["a", "a", "b", "c", "d", "d", "d", "e", "f"];
    const stat = (s: ArrayLike<number>) => [meanOf(values)(s), Array.from(s).filter((i) => strata[i] === 1).length];
    const seen: number[][] = [];
    const got = bootstrapStatistic(9, (s) => (seen.push(Array.from(s)), stat(s)), { seed: 11, resamples: 400, strata, clusters });
    const replay = replayClustered(strataGroups(9, strata), clusters, 400, 11);
    assert.deepEqual(seen.slice(1), replay);
    const draws = replay.map((s) => stat(s)[0]!);
    assertClose(got[0]!.ci, [quantile7(draws, 0.025), quantile7(draws, 0.975)], 1e-12, "interval");
    // Every sample holds whole clusters: "a" both items or neither, "d" all three.
    for (const s of seen) {
      const count = (i: number) => s.filter((x) => x === i).length;
      assert.equal(count(0), count(1));
      assert.equal(count(4), count(5));
      assert.equal(count(5), count(6));
    }
  });

  it("refuses a cluster list of the wrong length", () => {
    assert.throws(() => bootstrapStatistic(3, () => [0], { clusters: ["a", "b"] }), /one cluster id per item/u);
  });
});

describe("MoCa's stories are its clusters", () => {
  it("the loader clusters items that tell the same story: 55 stories for 62 moral items, 111 for 144 causal", async () => {
    const moca = await loadMoCa({ data: path.join(SHARED, "data/moca") });
    assert.equal(moca.clusterName, "story");
    for (const [dataset, items, stories] of [["moral", 62, 55], ["causal", 144, 111]] as const) {
      const qs = moca.questions.filter((q) => q.dataset === dataset);
      assert.equal(qs.length, items);
      assert.equal(new Set(qs.map((q) => q.cluster)).size, stories, dataset);
      // The same partition as the raw file's story texts, read here on their own.
      const raw = (JSON.parse(readFileSync(path.join(SHARED, `data/moca/${dataset}_dataset_v1.json`), "utf8")) as string[]).map((x) => (JSON.parse(x) as { story: string }).story.trim());
      for (let a = 0; a < items; a++) {
        for (let b = a + 1; b < items; b++) assert.equal(qs[a]!.cluster === qs[b]!.cluster, raw[a] === raw[b], `${dataset} ${a} ${b}`);
      }
    }
  });

  it("mocaScores resamples stories: a story asked twice counts as one draw", () => {
    const base: MoCaItem[] = [0.9, 0.2, 0.7, 0.1, 0.65, 0.3, 0.8, 0.45].map((h, i) => ({ id: `s${i}`, humanYes: h, modelYes: (i * 0.37) % 1 }));
    const doubled: MoCaItem[] = base.flatMap((it) => [
      { ...it, cluster: it.id },
      { ...it, id: `${it.id}b`, cluster: it.id },
    ]);
    const a = mocaScores(base, { seed: 3, resamples: 500 });
    const c = mocaScores(doubled, { seed: 3, resamples: 500 });
    assertClose(c.agreement.ci, a.agreement.ci, 1e-12, "agreement");
    assertClose(c.accuracy.ci, a.accuracy.ci, 1e-12, "accuracy");
    assertClose(c.auroc.ci, a.auroc.ci, 1e-12, "auroc");
    // Without clusters the doubled items would be resampled as 16 independent ones: narrower.
    const i = mocaScores(doubled.map(({ cluster: _c, ...it }) => it), { seed: 3, resamples: 500 });
    assert.ok(width(i.agreement.ci) < width(c.agreement.ci));
  });

  it("civitas score on MoCa resamples stories by default and says so (terminal and --json)", async () => {
    const data = path.join(SHARED, "data/moca");
    const moca = await loadMoCa({ data });
    // Predictions that vary by item: P(yes) = (k * 0.29) mod 1 for the k-th item.
    const lines = moca.questions.map((q, k) => JSON.stringify({ question: q.id, population: "overall", distribution: [(k * 0.29) % 1, 1 - ((k * 0.29) % 1)] }));
    const text = lines.join("\n") + "\n";
    const preds = parsePredictions(text, "p.jsonl", moca);
    const r = scorePredictions(moca, preds, resolveConventions(moca), 0);
    assert.deepEqual(r.bootstrap, { unit: "cluster", of: "story", units: 166, items: 206, resamples: 1000, stratified: true });
    // The interval, replayed: 1 - TV per item, stories drawn within each dataset (moral, then causal).
    // TV of two yes/no distributions is |P(yes) - share yes|.
    const tv = moca.questions.map((q, k) => Math.abs((k * 0.29) % 1 - moca.human(q.id, "overall")!.probs[0]!));
    const strata = moca.questions.map((q) => (q.dataset === "moral" ? 0 : 1));
    const replay = replayClustered(strataGroups(206, strata), moca.questions.map((q) => q.cluster!), 1000, 0);
    const draws = replay.map((s) => 1 - meanOf(tv)(s));
    assertClose(r.overall.ci, [quantile7(draws, 0.025), quantile7(draws, 0.975)], 1e-9, "overall interval");
    assertClose(r.overall.mean, 1 - meanOf(tv)(tv.map((_, i) => i)), 1e-12, "point");

    const file = path.join(tempDir(), "moca.jsonl");
    writeFileSync(file, text);
    const out = await runCli(["score", "moca", "--data", data, "--predictions", file]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /95% clustered bootstrap interval: 166 stories resampled whole \(206 questions\), within each dataset/u);
    const json = await runCli(["score", "moca", "--data", data, "--predictions", file, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { bootstrap: unknown }).bootstrap, r.bootstrap);
  });
});
