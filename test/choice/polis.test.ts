import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import {
  adjustedRandIndex,
  columnMeans,
  imputeColumnMeans,
  kmeans,
  polisGroups,
  powerIterationPca,
  projectSparse,
  propTest,
  readPolis,
  silhouette,
  silhouetteSamples,
  twoPropTest,
  type PolisData,
} from "../../src/choice/index.js";
import { seededRng } from "../../src/metrics/rng.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { SHARED, tempDir } from "../helpers/paths.js";

const POLIS = path.join(SHARED, "data/polis");
const BREXIT = path.join(POLIS, "brexit-consensus");
const SEATTLE = path.join(POLIS, "15-per-hour-seattle");

const close = (actual: number, expected: number, tol = 1e-12, what = ""): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} is not within ${tol} of ${expected}`);

describe("readPolis on the real exports", () => {
  it("reads brexit-consensus: 204 participants, 50 comments, votes, groups, texts", async () => {
    const d = await readPolis(BREXIT);
    assert.equal(d.participants.length, 204);
    assert.equal(d.comments.length, 50);
    assert.deepEqual(
      d.comments.map((c) => c.id),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual(d.warnings, []);
    assert.equal(d.summary?.groups, "2");
    // participant 0: group 1, passes then agrees and disagrees
    assert.equal(d.participants[0], 0);
    assert.equal(d.groupIds[0], 1);
    assert.equal(d.authored[0], 31);
    const v0 = d.votes[0]!;
    assert.deepEqual([v0[0], v0[17], v0[18], v0[30], v0[38], v0[49]], [0, 0, 1, -1, -1, 1]);
    // participant 1: 18 votes on comments 0..17, the rest not shown
    const v1 = d.votes[1]!;
    assert.deepEqual([v1[0], v1[1], v1[17]], [-1, 1, 1]);
    assert.ok(Number.isNaN(v1[18]!) && Number.isNaN(v1[49]!));
    const shipped = new Map<string, number>();
    for (const g of d.groupIds) shipped.set(String(g), (shipped.get(String(g)) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(shipped), { "0": 106, "1": 91, null: 7 });
    const c36 = d.comments[36]!;
    assert.equal(c36.text, "Opposition to Brexit as a whole won't stop it, but opposition to the component parts of it just might.");
    assert.equal(c36.moderated, 1);
    assert.equal(c36.authorId, 0);
    assert.ok(d.comments.every((c) => c.moderated === 1));
  });

  it("reads 15-per-hour-seattle: 339 participants, 54 comments, moderation, multi-line bodies", async () => {
    const d = await readPolis(SEATTLE);
    assert.equal(d.participants.length, 339);
    assert.equal(d.comments.length, 54);
    assert.deepEqual(d.warnings, []);
    const mods = { in: 0, out: 0, none: 0 };
    for (const c of d.comments) mods[c.moderated === 1 ? "in" : c.moderated === -1 ? "out" : "none"]++;
    assert.deepEqual(mods, { in: 30, out: 23, none: 1 });
    assert.equal(d.comments[53]!.moderated, 0);
    assert.equal(d.groupIds[0], 0);
    assert.deepEqual(Array.from(d.votes[0]!.slice(0, 13)), new Array(13).fill(0));
    assert.ok(Number.isNaN(d.votes[0]![13]!));
    const v1 = d.votes[1]!;
    assert.deepEqual([v1[0], v1[7], v1[9], v1[12]], [1, -1, 0, -1]);
    assert.equal(d.groupIds[1], 1);
    assert.deepEqual(d.participants.slice(-3), [5834, 5837, 6095]);
    assert.equal(d.groupIds.filter((g) => g === null).length, 201);
    assert.ok(d.comments[20]!.text.startsWith("Reactionary liberal trash."));
    // a quoted body over several lines is kept whole
    assert.ok(d.comments[4]!.text.includes("\n"), "comment 4 spans lines");
    // comments.csv counts every vote event, superseded ones too: never below the matrix
    d.comments.forEach((c, j) => {
      const agrees = d.votes.filter((r) => r[j] === 1).length;
      assert.ok(c.agrees! >= agrees, `comment ${c.id}: ${c.agrees} < ${agrees}`);
    });
  });

  it("accepts the participants-votes.csv path as well as the folder", async () => {
    const a = await readPolis(SEATTLE);
    const b = await readPolis(path.join(SEATTLE, "participants-votes.csv"));
    assert.deepEqual(b.participants, a.participants);
    assert.deepEqual(b.comments, a.comments);
    assert.equal(b.dir, SEATTLE);
  });
});

describe("readPolis on broken files", () => {
  const HEADER = "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1,2";
  const COMMENTS = "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n1,x,0,0,1,0,1,A\n2,x,1,0,0,1,1,B\n3,x,2,1,0,0,-1,C\n";
  async function folder(votes: string, comments: string | null = COMMENTS): Promise<string> {
    const dir = path.join(tempDir("civitas-polis-"), "conv");
    await mkdir(dir);
    await writeFile(path.join(dir, "participants-votes.csv"), votes);
    if (comments !== null) await writeFile(path.join(dir, "comments.csv"), comments);
    return dir;
  }

  it("reads a small hand-made export, with xid, and warns on inconsistent counts", async () => {
    const dir = await folder(`participant,xid,group-id,n-comments,n-votes,n-agree,n-disagree,0,1,2\n0,a,0,2,2,1,1,1,-1,\n1,b,,1,3,0,0,0,,1\n`);
    const d = await readPolis(dir);
    assert.deepEqual(d.participants, [0, 1]);
    assert.deepEqual(d.groupIds, [0, null]);
    assert.deepEqual(
      d.comments.map((c) => [c.id, c.text, c.moderated]),
      [
        [0, "A", 1],
        [1, "B", 1],
        [2, "C", -1],
      ],
    );
    assert.equal(d.warnings.length, 1);
    assert.match(d.warnings[0]!, /line 3 \(participant 1\): n-votes 3 but 2 votes, n-agree 0 but 1 agrees/);
  });

  it("rejects a vote that is not 1, -1, 0 or empty, naming file, line and comment", async () => {
    const dir = await folder(`${HEADER}\n0,0,0,2,1,1,1,-1,\n1,,0,1,0,0,,2,\n`);
    const e = await rejectsCivitas(readPolis(dir), "input");
    assert.match(e.message, /participants-votes\.csv line 3, column "1" \(participant 1\): vote "2"/);
  });

  it("rejects a wrong header, a short row, a repeated participant, a bad count", async () => {
    let e = await rejectsCivitas(readPolis(await folder(`participant,group,n-comments,n-votes,n-agree,n-disagree,0\n`)), "input");
    assert.match(e.message, /line 1, column 2: expected "group-id", found "group"/);
    e = await rejectsCivitas(readPolis(await folder(`${HEADER}\n0,0,0,1,1,0,1,\n`)), "input");
    assert.match(e.message, /line 2: 8 cells, the header has 9/);
    e = await rejectsCivitas(readPolis(await folder(`${HEADER}\n0,0,0,1,1,0,1,,\n0,0,0,1,1,0,1,,\n`)), "input");
    assert.match(e.message, /line 3: participant 0 appears twice \(also line 2\)/);
    e = await rejectsCivitas(readPolis(await folder(`${HEADER}\n0,0,0,x,1,0,1,,\n`)), "input");
    assert.match(e.message, /line 2, column "n-votes": "x" is not an integer/);
    e = await rejectsCivitas(readPolis(await folder(`participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,0\n`)), "input");
    assert.match(e.message, /comment 0 appears twice/);
  });

  it("rejects a missing comments.csv, a comment it lacks, a bad moderation value", async () => {
    const votes = `${HEADER}\n0,0,0,1,1,0,1,,\n`;
    let e = await rejectsCivitas(readPolis(await folder(votes, null)), "input");
    assert.match(e.message, /comments\.csv: not found/);
    e = await rejectsCivitas(readPolis(await folder(votes, "comment-id,comment-body,moderated\n0,A,1\n1,B,1\n")), "input");
    assert.match(e.message, /column 9: comment 2 is not in .*comments\.csv/);
    e = await rejectsCivitas(readPolis(await folder(votes, "comment-id,comment-body,moderated\n0,A,1\n1,B,2\n2,C,1\n")), "input");
    assert.match(e.message, /comments\.csv line 3, column "moderated": 2 is not -1/);
    // A path that does not exist is a usage error (exit 2), as in every command.
    e = await rejectsCivitas(readPolis(path.join(tempDir(), "nowhere")), "usage");
    assert.match(e.message, /not found/);
  });

  it("warns about a comment nobody voted on and a summary that disagrees", async () => {
    const dir = await folder(`${HEADER}\n0,0,0,1,1,0,1,,\n`, `${COMMENTS}4,x,3,0,0,0,1,D\n`);
    await writeFile(path.join(dir, "summary.csv"), "topic,t\nvoters,2\ncomments,3\ngroups,1\n");
    const d = await readPolis(dir);
    assert.equal(d.comments.length, 3);
    assert.ok(d.warnings.some((w) => /comments\.csv: 1 comment\(s\) without a column .*: 3$/.test(w)), d.warnings.join("\n"));
    assert.ok(d.warnings.some((w) => /summary\.csv: voters is 2, the files give 1$/.test(w)), d.warnings.join("\n"));
    // n-comments 0, but comments.csv credits participant 0 with 3 comments
    assert.ok(d.warnings.some((w) => /participant 0: n-comments 0, comments\.csv credits 3/.test(w)), d.warnings.join("\n"));
    assert.equal(d.warnings.length, 3);
  });

  it("reads a copy of a real export with CRLF line endings the same", async () => {
    const dir = path.join(tempDir("civitas-polis-"), "crlf");
    await mkdir(dir);
    for (const f of ["participants-votes.csv", "comments.csv"]) {
      const text = await readFile(path.join(BREXIT, f), "utf8");
      await writeFile(path.join(dir, f), text.replace(/\n/g, "\r\n"));
    }
    await copyFile(path.join(BREXIT, "summary.csv"), path.join(dir, "summary.csv"));
    const [a, b] = [await readPolis(BREXIT), await readPolis(dir)];
    assert.deepEqual(b.votes, a.votes);
    assert.deepEqual(b.comments, a.comments);
  });
});

describe("adjusted Rand index", () => {
  it("gives sklearn's documented answers", () => {
    // sklearn.metrics.adjusted_rand_score docstring and user guide examples
    close(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2]), 0.5714285714285715);
    close(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1]), 0.5714285714285715);
    assert.equal(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0]), 1.0);
    assert.equal(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 1]), 1.0);
    assert.equal(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3]), 0.0);
    close(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]), -0.5);
    // user guide: labels_true = [0, 0, 0, 1, 1, 1], labels_pred = [0, 0, 1, 1, 2, 2] -> 0.24...
    close(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]), 0.24242424242424243);
  });

  it("ignores label names and is symmetric", () => {
    assert.equal(adjustedRandIndex(["a", "a", "b", "b"], [7, 7, 3, 3]), 1.0);
    const a = [0, 0, 1, 1, 2, 2, 2, 0];
    const b = [1, 0, 1, 1, 2, 0, 2, 0];
    close(adjustedRandIndex(a, b), adjustedRandIndex(b, a));
    assert.throws(() => adjustedRandIndex([0], [0, 1]), /1 labels against 2/);
  });
});

describe("PCA by power iteration", () => {
  // Centred, the rows are (3,3,0), (-3,-3,0), (1,-1,0), (-1,1,0): X'X = [[20,16,0],[16,20,0],[0,0,0]],
  // eigenvalues 36 along (1,1,0)/sqrt2 and 4 along (1,-1,0)/sqrt2.
  const rows = [
    [4, 5, 5],
    [-2, -1, 5],
    [2, 1, 5],
    [0, 3, 5],
  ];
  it("finds the hand-computed components, eigenvalues and projections", () => {
    const pca = powerIterationPca(rows, 2, { seed: 3 });
    assert.deepEqual(Array.from(pca.center), [1, 2, 5]);
    const s = Math.SQRT1_2;
    pca.comps[0]!.forEach((v, j) => close(v, [s, s, 0][j]!, 1e-9, `pc1[${j}]`));
    pca.comps[1]!.forEach((v, j) => close(v, [s, -s, 0][j]!, 1e-9, `pc2[${j}]`));
    close(pca.eigenvalues[0]!, 36, 1e-9);
    close(pca.eigenvalues[1]!, 4, 1e-9);
    const p = projectSparse(rows, pca);
    close(p[0]![0]!, 6 * s, 1e-9);
    close(p[0]![1]!, 0, 1e-9);
    close(p[2]![0]!, 0, 1e-9);
    close(p[2]![1]!, 2 * s, 1e-9);
    // same answer from another start
    const other = powerIterationPca(rows, 2, { seed: 99 });
    other.comps[0]!.forEach((v, j) => close(v, pca.comps[0]![j]!, 1e-9));
  });

  it("projects a row with missing entries over its votes only, scaled by sqrt(columns / votes)", () => {
    const pca = powerIterationPca(rows, 2);
    const [p] = projectSparse([[4, NaN, 5]], pca);
    // (4 - 1) * (1/sqrt2) over 2 of 3 columns, times sqrt(3/2)
    close(p![0]!, 3 * Math.SQRT1_2 * Math.sqrt(1.5), 1e-9);
  });

  it("imputes column means over the values present", () => {
    const m = [
      [1, NaN, 0],
      [-1, 1, NaN],
      [1, 1, NaN],
    ];
    assert.deepEqual(Array.from(columnMeans(m)), [1 / 3, 1, 0]);
    assert.deepEqual(
      imputeColumnMeans(m).map((r) => Array.from(r)),
      [
        [1, 1, 0],
        [-1, 1, 0],
        [1, 1, 0],
      ],
    );
  });
});

describe("k-means and silhouette", () => {
  function blobs(seed: number): { points: number[][]; truth: number[] } {
    const rng = seededRng(seed);
    const centres = [
      [0, 0],
      [10, 0],
      [0, 10],
    ];
    const points: number[][] = [];
    const truth: number[] = [];
    for (let i = 0; i < 90; i++) {
      const c = i % 3;
      points.push([centres[c]![0]! + rng.float() * 2 - 1, centres[c]![1]! + rng.float() * 2 - 1]);
      truth.push(c);
    }
    return { points, truth };
  }

  it("recovers well-separated clusters (k-means++ and Polis' first-distinct start)", () => {
    const { points, truth } = blobs(7);
    const pp = kmeans(points, 3, { seed: 1 });
    assert.equal(pp.centers.length, 3);
    assert.equal(adjustedRandIndex(Array.from(pp.labels), truth), 1);
    const fd = kmeans(points, 3, { init: "first-distinct" });
    assert.equal(adjustedRandIndex(Array.from(fd.labels), truth), 1);
    // the silhouette picks k = 3
    const best = [2, 3, 4, 5].map((k) => ({ k, s: silhouette(points, kmeans(points, k, { seed: 1 }).labels) })).sort((a, b) => b.s - a.s)[0]!;
    assert.equal(best.k, 3);
    // same seed, same answer
    assert.deepEqual(kmeans(points, 3, { seed: 1 }), pp);
  });

  it("weighs points and starts from the first distinct ones", () => {
    const w = kmeans([[0], [1]], 1, { weights: [3, 1] });
    close(w.centers[0]![0]!, 0.25);
    const fd = kmeans([[0], [0], [5], [6]], 2, { init: "first-distinct" });
    assert.deepEqual(
      fd.centers.map((c) => Array.from(c)),
      [[0], [5.5]],
    );
    assert.deepEqual(Array.from(fd.labels), [0, 0, 1, 1]);
    close(fd.inertia, 0.5);
  });

  it("gives hand-computed silhouettes", () => {
    // 0,1 | 4,5: s(0) = 1 - 1/4.5, s(1) = 1 - 1/3.5, symmetric
    close(silhouette([[0], [1], [4], [5]], [0, 0, 1, 1]), (7 / 9 + 5 / 7) / 2);
    // a point alone in its cluster scores 0: 0,1 | 5 -> (0.8 + 0.75 + 0) / 3
    const s = silhouetteSamples([[0], [1], [5]], [0, 0, 1]);
    assert.deepEqual(Array.from(s), [0.8, 0.75, 0]);
    assert.throws(() => silhouette([[0], [1]], [0, 0]), /at least 2 clusters/);
  });

  it("computes Polis' z statistics", () => {
    close(propTest(9, 10), 2 * Math.sqrt(11) * (10 / 11 - 0.5));
    const [p1, p2, ph] = [6 / 11, 3 / 21, 9 / 32];
    close(twoPropTest(5, 2, 10, 20), (p1 - p2) / Math.sqrt(ph * (1 - ph) * (1 / 11 + 1 / 21)));
    assert.equal(twoPropTest(3, 5, 3, 5), 0); // everyone succeeded: pooled share 1
  });
});

describe("polisGroups on small data", () => {
  it("keeps at least 15 participants, adding the most active, and numbers groups by size", () => {
    // 20 participants, 8 comments; two camps; only 10 participants have 7+ votes
    const votes: Float64Array[] = [];
    for (let i = 0; i < 20; i++) {
      const camp = i % 2 === 0 ? 1 : -1;
      const n = i < 10 ? 8 : 2 + (i % 4);
      votes.push(Float64Array.from({ length: 8 }, (_, j) => (j < n ? (j < 4 ? camp : -camp) : NaN)));
    }
    const data: PolisData = {
      dir: "mem",
      files: { votes: "mem/participants-votes.csv", comments: "mem/comments.csv", summary: null },
      participants: votes.map((_, i) => i),
      comments: Array.from({ length: 8 }, (_, j) => ({ id: j, text: `c${j}`, moderated: 1 as const, authorId: null, agrees: null, disagrees: null })),
      votes,
      groupIds: votes.map((_, i) => (i < 10 ? i % 2 : null)),
      authored: votes.map(() => 0),
      summary: null,
      warnings: [],
    };
    const r = polisGroups(data, { seed: 1 });
    const inConv = r.participants.filter((p) => p.inConv).map((p) => p.id);
    // the 10 full voters, then the 5 most active others (5 votes: 11, 15, 19; 4 votes: 10, 14)
    assert.deepEqual(inConv, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 19]);
    assert.ok(r.warnings.some((w) => /only 10 participant\(s\) have at least 7 votes; the 5 most active/.test(w)));
    assert.equal(r.k, 2);
    assert.equal(r.ari, 1);
    assert.ok(r.groups[0]!.size >= r.groups[1]!.size);
    // the camps split every comment: the spread of p-agree is large, nothing is agreed by all
    assert.equal(r.agreedByAll.length, 0);
    assert.ok(r.divisive[0]!.spread > 0.5);
  });

  it("rejects bad options", () => {
    const data = { participants: [], comments: [], votes: [], groupIds: [], warnings: [] } as unknown as PolisData;
    assert.throws(() => polisGroups(data, { kRange: [1, 3] }), /kRange/);
    assert.throws(() => polisGroups(data, { minVotes: -1 }), /minVotes/);
  });
});

/**
 * A conversation small enough to work out by hand what the Polis math worker computes from it
 * (compdemocracy/polis, math/src/polismath/math/: conversation.clj `:in-conv`, `:group-votes`,
 * `:group-aware-consensus`; repness.clj `comment-stats`, `add-comparitive-stats`,
 * `select-rep-comments`; stats.clj `prop-test`, `two-prop-test`). The export's 1 is agree (Polis
 * stores agree as -1 internally and flips it on export).
 *
 * 20 participants in two camps, X = 0..11 and Y = 12..19, and 10 comments (. = not shown):
 *
 *   comment  X                       Y
 *   c0       agree                   disagree
 *   c1       disagree                agree (12..17), pass (18, 19)
 *   c2       agree                   agree
 *   c3       agree (0..8), pass      pass
 *   c4       agree                   agree            moderated out
 *   c5       agree (0..5), .         disagree
 *   c6       pass                    agree (12..15), .
 *   c7       disagree                disagree
 *   c8       agree (0..9), disagree  disagree (12..18), agree (19)
 *   c9       disagree (0..10), .     agree (12..16), pass
 *
 * Everyone has at least 8 votes (>= min(7, 10)): all 20 are clustered. The camps are the only
 * split on the first component: they take opposite sides of c0, c1, c5, c9; within a camp rows
 * differ on one to three comments. With 10 distinct rows there are 10 base clusters, and k is
 * at most 2 + floor(10 / 12) = 2 (`max-k-fn`). Groups are numbered by size: X is 0, Y is 1.
 */
describe("polisGroups on a conversation worked out by hand", () => {
  const X = Array.from({ length: 12 }, (_, i) => i);
  const Y = Array.from({ length: 8 }, (_, i) => 12 + i);
  const NA = NaN;
  const row = (p: number): number[] => {
    const x = p < 12;
    return [
      x ? 1 : -1,
      x ? -1 : p < 18 ? 1 : 0,
      1,
      x ? (p < 9 ? 1 : 0) : 0,
      1,
      x ? (p < 6 ? 1 : NA) : -1,
      x ? 0 : p < 16 ? 1 : NA,
      -1,
      x ? (p < 10 ? 1 : -1) : p < 19 ? -1 : 1,
      x ? (p < 11 ? -1 : NA) : p < 17 ? 1 : 0,
    ];
  };
  const votes = Array.from({ length: 20 }, (_, p) => Float64Array.from(row(p)));
  const data: PolisData = {
    dir: "mem",
    files: { votes: "mem/participants-votes.csv", comments: "mem/comments.csv", summary: null },
    participants: votes.map((_, i) => 100 + i),
    comments: Array.from({ length: 10 }, (_, j) => ({ id: j, text: `c${j}`, moderated: j === 4 ? (-1 as const) : (1 as const), authorId: null, agrees: null, disagrees: null })),
    votes,
    groupIds: votes.map((_, i) => (i < 12 ? 5 : 9)),
    authored: votes.map(() => 0),
    summary: null,
    warnings: [],
  };
  const r = polisGroups(data, { seed: 0 });
  const [gx, gy] = [r.groups[0]!, r.groups[1]!];

  it("clusters everyone, into the two camps, numbered by size", () => {
    assert.ok(r.participants.every((p) => p.inConv));
    assert.deepEqual(
      r.participants.map((p) => p.votes),
      [10, 10, 10, 10, 10, 10, 9, 9, 9, 9, 9, 8, 10, 10, 10, 10, 9, 9, 9, 9],
    );
    assert.equal(r.baseClusters, 10);
    assert.equal(r.k, 2);
    assert.deepEqual(r.silhouettes.map((x) => x.k), [2]);
    assert.deepEqual(gx.members, X.map((i) => 100 + i));
    assert.deepEqual(gy.members, Y.map((i) => 100 + i));
    assert.equal(r.ari, 1);
    assert.equal(r.ariParticipants, 20);
  });

  it("zeroes the moderated-out comment for PCA: column means of the imputed matrix", () => {
    // Votes cast per column, missing ones imputed by that mean; c4's column is all 0.
    const center = [(12 - 8) / 20, (-12 + 6) / 20, 1, 9 / 20, 0, (6 - 8) / 14, 4 / 16, -1, (10 - 2 - 7 + 1) / 20, (-11 + 5) / 19];
    Array.from(r.pca.center).forEach((c, j) => close(c, center[j]!, 1e-12, `centre of c${j}`));
    for (const pc of r.pca.comps) close(pc[4]!, 0, 1e-12, "c4 in a component");
  });

  it("counts each group's agrees, disagrees and votes seen on the raw votes (passes seen, moderated-out comment included)", () => {
    assert.deepEqual(gx.agrees, [12, 0, 12, 9, 12, 6, 0, 0, 10, 0]);
    assert.deepEqual(gx.disagrees, [0, 12, 0, 0, 0, 0, 0, 12, 2, 11]);
    assert.deepEqual(gx.seen, [12, 12, 12, 12, 12, 6, 12, 12, 12, 11]);
    assert.deepEqual(gy.agrees, [0, 6, 8, 0, 8, 0, 4, 0, 1, 5]);
    assert.deepEqual(gy.disagrees, [8, 0, 0, 0, 0, 8, 0, 8, 7, 0]);
    assert.deepEqual(gy.seen, [8, 8, 8, 8, 8, 8, 4, 8, 8, 8]);
    gx.pAgree.forEach((p, j) => close(p, (gx.agrees[j]! + 1) / (gx.seen[j]! + 2), 1e-15, `X p-agree c${j}`));
    close(gx.agreeShare[3]!, 9 / 12);
    close(gy.agreeShare[6]!, 4 / 4);
  });

  it("ranks comments by group-aware consensus, the product of (A + 1) / (S + 2) over groups", () => {
    const expected: [number, number][] = [
      [2, (13 / 14) * (9 / 10)],
      [8, (11 / 14) * (2 / 10)],
      [0, (13 / 14) * (1 / 10)],
      [5, (7 / 8) * (1 / 10)],
      [3, (10 / 14) * (1 / 10)],
      [6, (1 / 14) * (5 / 6)],
      [1, (1 / 14) * (7 / 10)],
      [9, (1 / 13) * (6 / 10)],
      [7, (1 / 14) * (1 / 10)],
    ];
    assert.deepEqual(
      r.consensus.map((c) => c.comment),
      expected.map(([c]) => c),
    );
    r.consensus.forEach((c, k) => close(c.score, expected[k]![1], 1e-15, `c${c.comment}`));
    // Agreed by every group: only c2 (c4 too, but it is moderated out).
    assert.deepEqual(r.agreedByAll, [{ comment: 2, text: "c2", minAgreeShare: 1 }]);
    // Divisive: the spread of (A + 1) / (S + 2) between the groups; c2 and c7 tie at 2/70.
    assert.deepEqual(
      r.divisive.slice(0, 7).map((d) => d.comment),
      [0, 5, 6, 1, 3, 8, 9],
    );
    close(r.divisive[0]!.spread, 13 / 14 - 1 / 10, 1e-15);
    assert.deepEqual(new Set(r.divisive.slice(7).map((d) => d.comment)), new Set([2, 7]));
  });

  it("selects each group's representative comments as repness.clj does: best agree first, top 5 by repness, agrees before disagrees", () => {
    // prop-test and two-prop-test, with the +1 pseudo-counts of stats.clj.
    const z1 = (s: number, n: number) => 2 * Math.sqrt(n + 1) * ((s + 1) / (n + 1) - 0.5);
    const z2 = (s1: number, s2: number, n1: number, n2: number) => {
      const [a, b, c, d] = [s1 + 1, s2 + 1, n1 + 1, n2 + 1];
      const p = (a + b) / (c + d);
      return (a / c - b / d) / Math.sqrt(p * (1 - p) * (1 / c + 1 / d));
    };
    /** A comment's entry for a group with (A or D) successes of S seen, against rest (successes, seen). */
    const entry = (comment: number, repfulFor: "agree" | "disagree", n: number, s: number, restN: number, restS: number, bestAgree = false) => {
      const pSuccess = (1 + n) / (2 + s);
      const repness = pSuccess / ((1 + restN) / (2 + restS));
      return { comment, repfulFor, nSuccess: n, nTrials: s, pSuccess, pTest: z1(n, s), repness, repnessTest: z2(n, restN, s, restS), bestAgree };
    };
    // Group X: c0, c1, c3, c5, c8, c9 pass both tests at 90% (z > 1.2816); c0 is the best agreed
    // (the first to pass, and none after beats ra rat pa pat = 132.5); the rest by that metric:
    // c1 132.5, c9 122.5, c5 71.5, c3 30.1, c8 22.5: c8 is the sixth and is left out.
    const x = [entry(0, "agree", 12, 12, 0, 8, true), entry(5, "agree", 6, 6, 0, 8), entry(3, "agree", 9, 12, 0, 8), entry(1, "disagree", 12, 12, 0, 8), entry(9, "disagree", 11, 11, 0, 8)];
    // Group Y: c0, c1, c5, c6, c8 pass; the best agreed is c6 (c1 passes first, then c6's
    // ra rat pa pat = 80.9 beats c1's 38.4); then c0 145.4, c5 68.3, c1 38.4, c8 21.2.
    const y = [entry(6, "agree", 4, 4, 0, 12, true), entry(1, "agree", 6, 8, 0, 12), entry(0, "disagree", 8, 8, 0, 12), entry(5, "disagree", 8, 8, 0, 6), entry(8, "disagree", 7, 8, 2, 12)];
    for (const [g, want] of [
      [gx, x],
      [gy, y],
    ] as const) {
      assert.deepEqual(
        g.representative.map((c) => [c.comment, c.repfulFor, c.bestAgree]),
        want.map((c) => [c.comment, c.repfulFor, c.bestAgree]),
        `group ${g.id}`,
      );
      g.representative.forEach((c, k) => {
        const w = want[k]!;
        assert.equal(c.text, `c${c.comment}`);
        assert.deepEqual([c.nSuccess, c.nTrials], [w.nSuccess, w.nTrials], `group ${g.id} c${c.comment}`);
        for (const key of ["pSuccess", "pTest", "repness", "repnessTest"] as const) close(c[key], w[key], 1e-12, `group ${g.id} c${c.comment} ${key}`);
        close(c.metric, w.repness * w.repnessTest * w.pSuccess * w.pTest, 1e-9, `group ${g.id} c${c.comment} metric`);
      });
    }
  });
});

/**
 * The real conversations against what Polis itself computed for them: the export's group-id
 * column (Polis' groups), its summary.csv, and comments.csv's moderation. civitas follows the
 * Polis math worker from scratch on the final snapshot, where Polis updates incrementally and
 * warm-starts every step (the departures are listed in src/choice/polis.ts), so exact agreement
 * is not expected; what is required: the same participants, the same number of groups where
 * Polis' silhouette would see it, at most 5% of participants in another group than Polis put them,
 * and the same most divisive and most consensual comments when the groups are Polis' own.
 */
describe("polisGroups on the real conversations", () => {
  /** Participants whose group differs from the export's, under the best matching of 2 groups. */
  function moved(r: ReturnType<typeof polisGroups>): number {
    const both = r.participants.filter((p) => p.group !== null && p.shippedGroup !== null);
    const a = both.filter((p) => (p.group === 0) !== (p.shippedGroup === 0)).length;
    return Math.min(a, both.length - a);
  }
  /** Per comment, (A + 1) / (S + 2) in each of the export's groups (raw votes of its members). */
  function exportPAgree(d: PolisData): Map<number, number[]> {
    const gids = [...new Set(d.groupIds.filter((g): g is number => g !== null))].sort();
    return new Map(
      d.comments.map((c, j) => [
        c.id,
        gids.map((g) => {
          let a = 0;
          let s = 0;
          d.votes.forEach((v, i) => {
            if (d.groupIds[i] !== g || Number.isNaN(v[j]!)) return;
            s++;
            if (v[j] === 1) a++;
          });
          return (a + 1) / (s + 2);
        }),
      ]),
    );
  }
  /** The comments (moderated out left out) with the largest `score`. */
  function top(d: PolisData, n: number, score: (pAgree: number[]) => number): number[] {
    const p = exportPAgree(d);
    return d.comments
      .filter((c) => c.moderated !== -1)
      .map((c) => ({ id: c.id, s: score(p.get(c.id)!) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, n)
      .map((x) => x.id);
  }
  const spread = (p: number[]) => Math.max(...p) - Math.min(...p);
  const product = (p: number[]) => p.reduce((a, b) => a * b, 1);
  const votesOf = (d: PolisData) => d.votes.map((r) => r.filter((v) => !Number.isNaN(v)).length);

  it("15-per-hour-seattle: Polis' participants, its 2 groups give or take 5%, its most divisive and consensual comments", async () => {
    const d = await readPolis(SEATTLE);
    // Polis grouped exactly the participants with at least 7 votes.
    const counts = votesOf(d);
    const grouped = d.groupIds.flatMap((g, i) => (g === null ? [] : [i]));
    assert.deepEqual(
      grouped,
      counts.flatMap((c, i) => (c >= 7 ? [i] : [])),
    );
    assert.equal(d.summary?.groups, "2");
    for (const seed of [0, 1]) {
      const r = polisGroups(d, { seed });
      assert.deepEqual(
        r.participants.flatMap((p, i) => (p.inConv ? [i] : [])),
        grouped,
      );
      assert.equal(r.ariParticipants, grouped.length);
      assert.equal(r.k, 2);
      assert.ok(r.baseClusters <= 100);
      const m = moved(r);
      assert.ok(m <= 0.05 * grouped.length, `${m} of ${grouped.length} participants in another group than Polis'`);
      assert.ok(r.ari! > 0.8, `ARI ${r.ari}`);
      assert.ok(r.silhouette! > 0.4);
      // The three most divisive comments between Polis' groups, and the three most consensual.
      assert.deepEqual(new Set(r.divisive.slice(0, 3).map((x) => x.comment)), new Set(top(d, 3, spread)));
      assert.deepEqual(new Set(r.consensus.slice(0, 3).map((x) => x.comment)), new Set(top(d, 3, product)));
    }
    const r = polisGroups(d, { seed: 0 });
    // Moderated-out comments are in no list; every other comment is in the consensus ranking.
    const out = new Set(d.comments.filter((c) => c.moderated === -1).map((c) => c.id));
    for (const list of [r.consensus, r.divisive, r.agreedByAll, ...r.groups.map((g) => g.representative)]) {
      assert.ok(list.every((x) => !out.has(x.comment)));
    }
    assert.equal(r.consensus.length, d.comments.length - out.size);
    assert.equal(r.groups[0]!.agreeShare.length, d.comments.length);
    // The most divisive comment splits the groups: one mostly agrees, the other mostly disagrees.
    const j = d.comments.findIndex((c) => c.id === r.divisive[0]!.comment);
    const shares = r.groups.map((g) => g.agreeShare[j]!);
    assert.ok(Math.max(...shares) > 0.7 && Math.min(...shares) < 0.3, String(shares));
    // consensus is the product over groups of (A + 1) / (S + 2)
    const c = r.consensus[0]!;
    const jc = d.comments.findIndex((x) => x.id === c.comment);
    close(c.score, r.groups.reduce((p, g) => p * ((g.agrees[jc]! + 1) / (g.seen[jc]! + 2)), 1));
    // every group has representative comments, at most 5
    for (const g of r.groups) assert.ok(g.representative.length >= 1 && g.representative.length <= 5);
  });

  it("brexit-consensus: at k = 2 Polis' groups give or take 5%; the silhouette alone prefers more groups, nested in Polis' two", async () => {
    const d = await readPolis(BREXIT);
    const counts = votesOf(d);
    const enough = counts.flatMap((c, i) => (c >= 7 ? [i] : []));
    // Polis grouped 8 participants with fewer than 7 votes: its set of participants only grows,
    // and they were in when the conversation was young (the "top 15" rule). A snapshot drops them.
    const shippedFew = d.groupIds.filter((g, i) => g !== null && counts[i]! < 7).length;
    assert.equal(shippedFew, 8);
    assert.equal(d.summary?.groups, "2");
    const k2 = polisGroups(d, { seed: 0, kRange: [2, 2] });
    assert.deepEqual(
      k2.participants.flatMap((p, i) => (p.inConv ? [i] : [])),
      enough,
    );
    assert.equal(k2.ariParticipants, enough.filter((i) => d.groupIds[i] !== null).length);
    assert.ok(k2.warnings.some((w) => w.startsWith(`${shippedFew} participant(s) grouped in the export were not clustered`)));
    assert.ok(moved(k2) <= 0.05 * k2.ariParticipants, `${moved(k2)} of ${k2.ariParticipants} in another group than Polis'`);
    assert.ok(k2.ari! > 0.8, `ARI ${k2.ari}`);
    // Between Polis' groups, comment 8 is by far the most divisive, then 7 (spreads 0.73, 0.63, then 0.54).
    assert.deepEqual(top(d, 2, spread), [8, 7]);
    assert.deepEqual(
      k2.divisive.slice(0, 2).map((x) => x.comment),
      [8, 7],
    );
    assert.deepEqual(new Set(k2.consensus.slice(0, 3).map((x) => x.comment)), new Set(top(d, 3, product)));
    // Left to choose k in 2..5, the silhouette (over the base-cluster centres) prefers more groups
    // than Polis shows (live Polis changes k only after several updates agree): the k chosen is
    // the best silhouette tried, and each group lies mostly in one of Polis' two.
    const r = polisGroups(d, { seed: 0 });
    const best = r.silhouettes.reduce((a, b) => (b.silhouette > a.silhouette ? b : a));
    assert.equal(r.k, best.k);
    assert.equal(r.silhouette, best.silhouette);
    assert.ok(r.k > 2);
    assert.ok(k2.silhouette! < r.silhouette!);
    for (const g of r.groups) {
      const inGroup = r.participants.filter((p) => p.group === g.id && p.shippedGroup !== null);
      const zero = inGroup.filter((p) => p.shippedGroup === 0).length;
      assert.ok(Math.max(zero, inGroup.length - zero) / inGroup.length >= 0.7, `group ${g.id}`);
    }
    // comments agreed by every group really are
    assert.ok(r.agreedByAll.length > 0);
    for (const a of r.agreedByAll) {
      const j = d.comments.findIndex((c) => c.id === a.comment);
      for (const g of r.groups) assert.ok(g.agreeShare[j]! > 0.5);
    }
    // seeded: the same seed gives the same result
    assert.deepEqual(polisGroups(d, { seed: 0 }), r);
  });
});
