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
} from "../../src/choice/polis.js";
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

describe("polisGroups on the real conversations", () => {
  it("15-per-hour-seattle: two groups, close to the export's (ARI 0.88)", async () => {
    const d = await readPolis(SEATTLE);
    const r = polisGroups(d, { seed: 0 });
    // Polis' participant rule keeps exactly the 138 participants the export grouped
    const kept = r.participants.filter((p) => p.inConv);
    assert.equal(kept.length, 138);
    assert.ok(kept.every((p) => p.shippedGroup !== null));
    assert.equal(r.participants.filter((p) => p.shippedGroup !== null).length, 138);
    assert.equal(r.baseClusters, 100);
    assert.equal(r.k, 2);
    assert.deepEqual(
      r.groups.map((g) => g.size),
      [95, 43],
    );
    assert.equal(r.ariParticipants, 138);
    close(r.ari!, 0.883706569746753, 1e-9, "ARI");
    assert.ok(r.ari! > 0.8);
    // the export's groups are 99 and 39; ours differ by 4 participants
    const moved = r.participants.filter((p) => p.group !== null && (p.group === 0) !== (p.shippedGroup === 0)).length;
    assert.equal(moved, 4);
    assert.ok(r.silhouette! > 0.4);
    // moderated-out comments are in no list; group shares are per comment
    const out = new Set(d.comments.filter((c) => c.moderated === -1).map((c) => c.id));
    for (const list of [r.consensus, r.divisive, r.agreedByAll, ...r.groups.map((g) => g.representative)]) {
      assert.ok(list.every((x) => !out.has(x.comment)));
    }
    assert.equal(r.consensus.length, 31);
    assert.equal(r.groups[0]!.agreeShare.length, 54);
    // the most divisive comments split the groups: one group mostly agrees, the other mostly disagrees
    const top = r.divisive[0]!;
    assert.equal(top.comment, 46);
    const j = d.comments.findIndex((c) => c.id === top.comment);
    const shares = r.groups.map((g) => g.agreeShare[j]!);
    assert.ok(Math.max(...shares) > 0.7 && Math.min(...shares) < 0.3, String(shares));
    // consensus is the product over groups of (A + 1) / (S + 2)
    const c = r.consensus[0]!;
    const jc = d.comments.findIndex((x) => x.id === c.comment);
    close(c.score, r.groups.reduce((p, g) => p * ((g.agrees[jc]! + 1) / (g.seen[jc]! + 2)), 1));
    // every group has representative comments, at most 5
    for (const g of r.groups) assert.ok(g.representative.length >= 1 && g.representative.length <= 5);
  });

  it("brexit-consensus: the silhouette picks 5 groups nested in the export's 2; with k = 2 they match (ARI 0.86)", async () => {
    const d = await readPolis(BREXIT);
    const r = polisGroups(d, { seed: 0 });
    assert.equal(r.participants.filter((p) => p.inConv).length, 189);
    assert.equal(r.baseClusters, 99);
    assert.equal(r.k, 5);
    assert.deepEqual(
      r.groups.map((g) => g.size),
      [50, 46, 36, 31, 26],
    );
    assert.equal(r.ariParticipants, 189); // 8 of the export's grouped participants have < 7 votes
    assert.ok(r.warnings.some((w) => /^8 participant\(s\) grouped in the export were not clustered/.test(w)));
    close(r.ari!, 0.2888004270971026, 1e-9, "ARI k=5");
    assert.ok(r.ari! > 0.2);
    // most of each group found lies in one of the export's two groups
    for (const g of r.groups) {
      const inGroup = r.participants.filter((p) => p.group === g.id);
      const zero = inGroup.filter((p) => p.shippedGroup === 0).length;
      assert.ok(Math.max(zero, inGroup.length - zero) / inGroup.length >= 0.7, `group ${g.id}`);
    }
    const k2 = polisGroups(d, { seed: 0, kRange: [2, 2] });
    assert.equal(k2.k, 2);
    assert.deepEqual(
      k2.groups.map((g) => g.size),
      [102, 87],
    );
    close(k2.ari!, 0.8565795752858056, 1e-9, "ARI k=2");
    assert.ok(k2.silhouette! < r.silhouette!);
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
