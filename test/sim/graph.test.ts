/**
 * Graph generators and edge lists: exact degrees and edge counts where the construction determines
 * them, published expectations (within a few standard errors) where it is random, and the CSR
 * invariants: sorted rows, no self-loops or duplicates, symmetric adjacency, same seed same graph.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { seededRng } from "../../src/metrics/index.js";
import {
  barabasiAlbert,
  completeGraph,
  degree,
  edgeCount,
  erdosRenyi,
  graphFromSpec,
  lattice2d,
  loadEdgeList,
  meanDegree,
  neighborsOf,
  parseEdgeList,
  randomNeighbor,
  wattsStrogatz,
} from "../../src/sim/graph.js";
import type { Graph } from "../../src/sim/types.js";

/** Checks the CSR invariants of a simple undirected graph, independently of graph.ts. */
function assertSimpleUndirected(g: Graph): void {
  assert.equal(g.directed, false);
  assert.equal(g.offsets.length, g.n + 1);
  assert.equal(g.offsets[0], 0);
  assert.equal(g.offsets[g.n], g.neighbors.length);
  const edges = new Set<string>();
  for (let v = 0; v < g.n; v++) {
    const a = g.offsets[v]!;
    const b = g.offsets[v + 1]!;
    assert.ok(b >= a, `offsets decrease at ${v}`);
    for (let k = a; k < b; k++) {
      const u = g.neighbors[k]!;
      assert.ok(u >= 0 && u < g.n, `neighbour ${u} of ${v} out of range`);
      assert.notEqual(u, v, `self-loop at ${v}`);
      if (k > a) assert.ok(g.neighbors[k - 1]! < u, `row ${v} not strictly increasing (duplicate or unsorted)`);
      edges.add(`${v} ${u}`);
    }
  }
  for (const e of edges) {
    const [v, u] = e.split(" ");
    assert.ok(edges.has(`${u} ${v}`), `edge ${v} -> ${u} has no reverse`);
  }
}

function sameGraph(a: Graph, b: Graph): boolean {
  return a.n === b.n && Buffer.compare(Buffer.from(a.offsets.buffer), Buffer.from(b.offsets.buffer)) === 0 &&
    Buffer.compare(Buffer.from(a.neighbors.buffer, a.neighbors.byteOffset, a.neighbors.byteLength), Buffer.from(b.neighbors.buffer, b.neighbors.byteOffset, b.neighbors.byteLength)) === 0;
}

const throwsCivitas = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof CivitasError && pattern.test(e.message), `expected an error matching ${pattern}`);

describe("complete graph", () => {
  it("is implicit by default: n - 1 neighbours each, n(n-1)/2 edges, no edge lists", () => {
    const g = completeGraph(50);
    assert.equal(g.kind, "complete");
    assert.equal(g.neighbors.length, 0);
    assert.equal(edgeCount(g), 1225);
    assert.equal(meanDegree(g), 49);
    for (let v = 0; v < 50; v++) assert.equal(degree(g, v), 49);
    assert.deepEqual(Array.from(neighborsOf(g, 3)), Array.from({ length: 50 }, (_, i) => i).filter((i) => i !== 3));
  });

  it("draws partners uniformly among the others, never the agent itself", () => {
    const g = completeGraph(5);
    const rng = seededRng(4);
    const counts = new Array(5).fill(0);
    for (let t = 0; t < 40_000; t++) counts[randomNeighbor(g, 2, rng)]++;
    assert.equal(counts[2], 0);
    // 10,000 expected each, binomial sd ~ 87
    for (const v of [0, 1, 3, 4]) assert.ok(Math.abs(counts[v] - 10_000) < 4 * 87, `partner ${v} drawn ${counts[v]} times`);
  });

  it("can be explicit, with the same adjacency", () => {
    const g = completeGraph(30, { explicit: true });
    assertSimpleUndirected(g);
    assert.equal(g.neighbors.length, 30 * 29);
    assert.equal(edgeCount(g), 435);
    for (let v = 0; v < 30; v++) assert.deepEqual(neighborsOf(g, v), neighborsOf(completeGraph(30), v));
  });
});

describe("2-D lattice", () => {
  it("has the grid's degrees and edges: 2 at corners, 3 on borders, 4 inside", () => {
    const g = lattice2d(5, 4);
    assertSimpleUndirected(g);
    assert.equal(edgeCount(g), 5 * 3 + 4 * 4); // width (height - 1) + height (width - 1)
    assert.equal(degree(g, 0), 2);
    assert.equal(degree(g, 2), 3);
    assert.equal(degree(g, 19), 2);
    // node (x=1, y=1) = 6: up 1, left 5, right 7, down 11
    assert.deepEqual(Array.from(neighborsOf(g, 6)), [1, 5, 7, 11]);
  });

  it("wraps around on a torus: 4 neighbours each, 2 n edges", () => {
    const g = lattice2d(5, 4, { torus: true });
    assertSimpleUndirected(g);
    assert.equal(edgeCount(g), 40);
    for (let v = 0; v < 20; v++) assert.equal(degree(g, v), 4);
    assert.deepEqual(Array.from(neighborsOf(g, 0)), [1, 4, 5, 15]);
    throwsCivitas(() => lattice2d(2, 5, { torus: true }), /width and height >= 3/);
  });
});

describe("Watts-Strogatz", () => {
  it("is the ring lattice before rewiring: degree k, n k / 2 edges, i +- 1..k/2", () => {
    const g = wattsStrogatz(100, 6, 0, 1);
    assertSimpleUndirected(g);
    assert.equal(edgeCount(g), 300);
    for (let v = 0; v < 100; v++) {
      assert.equal(degree(g, v), 6);
      const expected = [1, 2, 3, 97, 98, 99].map((d) => (v + d) % 100).sort((a, b) => a - b);
      assert.deepEqual(Array.from(neighborsOf(g, v)), expected);
    }
  });

  it("rewires a share beta of the edges and keeps n k / 2 of them", () => {
    const n = 2000;
    const k = 6;
    const beta = 0.2;
    const g = wattsStrogatz(n, k, beta, 7);
    assertSimpleUndirected(g);
    assert.equal(edgeCount(g), (n * k) / 2);
    assert.equal(meanDegree(g), k);
    let ring = 0;
    for (let v = 0; v < n; v++) {
      for (const u of neighborsOf(g, v)) {
        const d = Math.min(Math.abs(u - v), n - Math.abs(u - v));
        if (d <= k / 2) ring++;
      }
    }
    const rewired = 1 - ring / 2 / ((n * k) / 2);
    // each edge is rewired with probability beta (a rewired edge landing back on the ring is rare)
    const se = Math.sqrt((beta * (1 - beta)) / ((n * k) / 2));
    assert.ok(Math.abs(rewired - beta) < 4 * se, `rewired share ${rewired}, expected ${beta} +- ${4 * se}`);
    assert.ok(sameGraph(g, wattsStrogatz(n, k, beta, 7)));
    assert.ok(!sameGraph(g, wattsStrogatz(n, k, beta, 8)));
  });

  it("rejects an odd k or one not below n", () => {
    throwsCivitas(() => wattsStrogatz(10, 3, 0.1, 0), /even k/);
    throwsCivitas(() => wattsStrogatz(10, 10, 0.1, 0), /even k/);
  });
});

describe("Erdos-Renyi G(n, p)", () => {
  it("has mean degree p (n - 1) and binomial degree variance, within 4 standard errors", () => {
    const n = 4000;
    const k = 10;
    const g = erdosRenyi(n, { meanDegree: k }, 3);
    assertSimpleUndirected(g);
    const p = k / (n - 1);
    // edges ~ Binomial(n(n-1)/2, p): sd = sqrt(p (1-p) n(n-1)/2) ~ 141 of 20,000
    const pairs = (n * (n - 1)) / 2;
    const sdEdges = Math.sqrt(p * (1 - p) * pairs);
    assert.ok(Math.abs(edgeCount(g) - p * pairs) < 4 * sdEdges, `edges ${edgeCount(g)}, expected ${p * pairs} +- ${4 * sdEdges}`);
    let s2 = 0;
    const mean = meanDegree(g);
    for (let v = 0; v < n; v++) s2 += (degree(g, v) - mean) ** 2;
    const variance = s2 / (n - 1);
    // degree ~ Binomial(n-1, p): variance k (1 - p) ~ 10; the sample variance has sd ~ sqrt(2 k^2 / n) + ... ~ 0.23
    assert.ok(Math.abs(variance - k * (1 - p)) < 1, `degree variance ${variance}`);
  });

  it("averages to the expected mean degree over seeds, and the same seed gives the same graph", () => {
    let total = 0;
    for (let seed = 0; seed < 20; seed++) total += meanDegree(erdosRenyi(500, { p: 0.02 }, seed));
    const expected = 0.02 * 499;
    // each mean degree has sd 2 sqrt(p(1-p) pairs) / n ~ 0.2; the mean of 20 ~ 0.045
    assert.ok(Math.abs(total / 20 - expected) < 0.2, `mean degree ${total / 20}, expected ${expected}`);
    assert.ok(sameGraph(erdosRenyi(500, { p: 0.02 }, 5), erdosRenyi(500, { p: 0.02 }, 5)));
    assert.ok(!sameGraph(erdosRenyi(500, { p: 0.02 }, 5), erdosRenyi(500, { p: 0.02 }, 6)));
  });

  it("gives the empty graph at p = 0 and the complete graph at p = 1", () => {
    assert.equal(edgeCount(erdosRenyi(100, { p: 0 }, 1)), 0);
    const full = erdosRenyi(40, { p: 1 }, 1);
    assertSimpleUndirected(full);
    assert.equal(edgeCount(full), 780);
    throwsCivitas(() => erdosRenyi(10, { meanDegree: 20 }, 1), /0 <= p <= 1/);
  });
});

describe("Barabasi-Albert", () => {
  it("has exactly m (n - m) edges, minimum degree m, and the published share of degree-m nodes", () => {
    const n = 20_000;
    const m = 3;
    const g = barabasiAlbert(n, m, 11);
    assertSimpleUndirected(g);
    assert.equal(edgeCount(g), m * (n - m));
    assert.equal(meanDegree(g), (2 * m * (n - m)) / n);
    let atM = 0;
    let maxDeg = 0;
    for (let v = 0; v < n; v++) {
      const d = degree(g, v);
      assert.ok(d >= m || v === 0, `node ${v} has degree ${d}`);
      if (d === m) atM++;
      maxDeg = Math.max(maxDeg, d);
    }
    // P(k) = 2 m (m + 1) / (k (k + 1) (k + 2)) (Dorogovtsev, Mendes, Samukhin, PRL 85, 2000;
    // Bollobas, Riordan, Spencer, Tusnady 2001): P(m) = 2 / (m + 2) = 0.4 for m = 3.
    const share = atM / n;
    const se = Math.sqrt((0.4 * 0.6) / n);
    assert.ok(Math.abs(share - 0.4) < 4 * se, `share of degree-${m} nodes ${share}, expected 0.4 +- ${4 * se}`);
    // a scale-free tail: hubs far above the mean (max degree grows like sqrt(n) ~ m sqrt(n) = 424)
    assert.ok(maxDeg > 100, `max degree ${maxDeg}`);
    assert.ok(sameGraph(g, barabasiAlbert(n, m, 11)));
  });
});

describe("edge lists", () => {
  it("reads u v [w] lines with comments, merges repeated edges, keeps self-loops", () => {
    const g = parseEdgeList("# a small graph\n0 1 2.5\n1 2\t1.5 # trailing comment\n\n2,0,1\n1 0 2.5\n3 3 4\n", { source: "g.txt" });
    assert.equal(g.n, 4);
    assert.equal(g.directed, false);
    assert.deepEqual(Array.from(neighborsOf(g, 0)), [1, 2]);
    assert.deepEqual(Array.from(g.weights!.subarray(g.offsets[0]!, g.offsets[1]!)), [2.5, 1]);
    assert.deepEqual(Array.from(neighborsOf(g, 1)), [0, 2]);
    assert.deepEqual(Array.from(neighborsOf(g, 3)), [3]);
    assert.equal(edgeCount(g), 4);
  });

  it("reads arcs in a directed graph and pads isolated nodes up to n", () => {
    const g = parseEdgeList("0 1\n1 0\n1 2\n", { directed: true, n: 5 });
    assert.equal(g.n, 5);
    assert.equal(g.weights, undefined);
    assert.deepEqual(Array.from(neighborsOf(g, 1)), [0, 2]);
    assert.deepEqual(Array.from(neighborsOf(g, 2)), []);
    assert.equal(edgeCount(g), 3);
  });

  it("names the line of every error", () => {
    throwsCivitas(() => parseEdgeList("0 1\n# c\n1\n", { source: "g.txt" }), /^g\.txt:3: expected 2 or 3 fields/);
    throwsCivitas(() => parseEdgeList("0 1\na 2\n", { source: "g.txt" }), /^g\.txt:2: field 1 is not a node id/);
    throwsCivitas(() => parseEdgeList("0 -1\n", { source: "g.txt" }), /^g\.txt:1: field 2 is not a node id/);
    throwsCivitas(() => parseEdgeList("0 1 x\n", { source: "g.txt" }), /^g\.txt:1: field 3, the weight, is not a finite number/);
    throwsCivitas(() => parseEdgeList("0 1 1\n2 3\n1 0 2\n", { source: "g.txt" }), /^g\.txt:3: edge 1 0 has weight 2 but line 1 gave it weight 1/);
    throwsCivitas(() => parseEdgeList("0 1\n0 7\n", { source: "g.txt", n: 5 }), /^g\.txt:2: node id 7 is not below n = 5/);
  });

  it("loads a file and says which file it could not read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "civitas-graph-"));
    try {
      const path = join(dir, "ring.txt");
      await writeFile(path, "0 1\n1 2\n2 0\n");
      const g = await loadEdgeList(path);
      assertSimpleUndirected(g);
      assert.equal(edgeCount(g), 3);
      await writeFile(path, "0 1\n1 2 3 4\n");
      await assert.rejects(loadEdgeList(path), (e: unknown) => e instanceof CivitasError && e.message.startsWith(`${path}:2:`));
      // A path that does not exist is a usage error (exit 2), said as for every file (src/files.ts).
      await assert.rejects(loadEdgeList(join(dir, "missing.txt")), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && e.message === `no edge list file ${join(dir, "missing.txt")}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("graphs named by a scenario's graph parameter", () => {
  it("builds each kind and rejects unknown ones with the list", async () => {
    assert.equal((await graphFromSpec("complete", { agents: 10, seed: 0 })).kind, "complete");
    assert.equal(edgeCount(await graphFromSpec("ws:k=4,beta=0", { agents: 10, seed: 0 })), 20);
    assert.equal(edgeCount(await graphFromSpec("ba:m=2", { agents: 10, seed: 0 })), 16);
    assert.ok(sameGraph(await graphFromSpec("er:k=4", { agents: 100, seed: 3 }), erdosRenyi(100, { meanDegree: 4 }, 3)));
    assert.equal(edgeCount(await graphFromSpec("torus", { agents: 16, seed: 0 })), 32);
    assert.equal(edgeCount(await graphFromSpec("lattice:width=5", { agents: 20, seed: 0 })), 31);
    await assert.rejects(graphFromSpec("star", { agents: 10, seed: 0 }), /unknown kind "star"/);
    await assert.rejects(graphFromSpec("er:k=4,p=0.1", { agents: 10, seed: 0 }), /exactly one of/);
    await assert.rejects(graphFromSpec("ws:k=4", { agents: 10, seed: 0 }), /missing beta/);
    await assert.rejects(graphFromSpec("lattice", { agents: 10, seed: 0 }), /do not fill a grid/);
  });
});
