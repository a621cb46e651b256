/**
 * Graphs in compressed sparse row form (see `Graph` in types.ts) and seeded generators: complete
 * (implicit), Erdos-Renyi, Watts-Strogatz, Barabasi-Albert, 2-D lattices, and edge lists read from
 * text. Generated graphs are undirected, without self-loops or duplicate edges, with each row of
 * `neighbors` sorted; the same seed gives the same graph.
 */
import { CivitasError } from "../errors.js";
import { readText } from "../files.js";
import { seededRng, type Rng } from "../metrics/index.js";
import type { Graph } from "./types.js";

// ---------------------------------------------------------------------------------------------
// Access that works for every graph, implicit complete ones included

export function isComplete(g: Graph): boolean {
  return g.kind === "complete";
}

/** Number of neighbours of v (out-neighbours in a directed graph). */
export function degree(g: Graph, v: number): number {
  if (g.kind === "complete" && g.neighbors.length === 0) return g.n - 1;
  return g.offsets[v + 1]! - g.offsets[v]!;
}

/** Number of edges: undirected edges counted once (a self-loop once), directed arcs each. */
export function edgeCount(g: Graph): number {
  if (g.kind === "complete") return g.directed ? g.n * (g.n - 1) : (g.n * (g.n - 1)) / 2;
  if (g.directed) return g.neighbors.length;
  let selfLoops = 0;
  for (let v = 0; v < g.n; v++) {
    for (let k = g.offsets[v]!; k < g.offsets[v + 1]!; k++) if (g.neighbors[k] === v) selfLoops++;
  }
  return (g.neighbors.length + selfLoops) / 2;
}

/** Mean number of neighbours per agent. */
export function meanDegree(g: Graph): number {
  if (g.n === 0) return 0;
  if (g.kind === "complete") return g.n - 1;
  return g.neighbors.length / g.n;
}

/** The neighbours of v (a view into the CSR arrays; a fresh array for an implicit complete graph). */
export function neighborsOf(g: Graph, v: number): Int32Array {
  if (g.kind === "complete" && g.neighbors.length === 0) {
    const out = new Int32Array(Math.max(0, g.n - 1));
    for (let u = 0, k = 0; u < g.n; u++) if (u !== v) out[k++] = u;
    return out;
  }
  return g.neighbors.subarray(g.offsets[v]!, g.offsets[v + 1]!);
}

/** A neighbour of v drawn uniformly, or -1 when v has none. */
export function randomNeighbor(g: Graph, v: number, rng: Rng): number {
  if (g.kind === "complete") {
    if (g.n < 2) return -1;
    const u = rng.int(0, g.n - 2);
    return u >= v ? u + 1 : u;
  }
  const a = g.offsets[v]!;
  const d = g.offsets[v + 1]! - a;
  return d === 0 ? -1 : g.neighbors[a + rng.int(0, d - 1)]!;
}

// ---------------------------------------------------------------------------------------------
// Building CSR from edge lists

/**
 * CSR from m edges (src[e], dst[e]). Undirected: each edge is stored in both rows (a self-loop
 * once). Rows are sorted by neighbour (weights move with them). Duplicates are not removed: the
 * callers guarantee there are none.
 */
export function csrFromEdges(
  n: number,
  src: Int32Array,
  dst: Int32Array,
  m: number,
  options: { directed?: boolean; weights?: Float64Array; kind?: "complete" } = {},
): Graph {
  const directed = options.directed ?? false;
  const w = options.weights;
  const offsets = new Int32Array(n + 1);
  for (let e = 0; e < m; e++) {
    const u = src[e]!;
    const v = dst[e]!;
    offsets[u + 1]!++;
    if (!directed && u !== v) offsets[v + 1]!++;
  }
  for (let v = 0; v < n; v++) offsets[v + 1]! += offsets[v]!;
  const total = offsets[n]!;
  const neighbors = new Int32Array(total);
  const weights = w === undefined ? undefined : new Float64Array(total);
  const fill = offsets.slice(0, n);
  for (let e = 0; e < m; e++) {
    const u = src[e]!;
    const v = dst[e]!;
    let k = fill[u]!++;
    neighbors[k] = v;
    if (weights !== undefined) weights[k] = w![e]!;
    if (!directed && u !== v) {
      k = fill[v]!++;
      neighbors[k] = u;
      if (weights !== undefined) weights[k] = w![e]!;
    }
  }
  sortRows(n, offsets, neighbors, weights);
  const g: { -readonly [K in keyof Graph]: Graph[K] } = { n, offsets, neighbors, directed };
  if (weights !== undefined) g.weights = weights;
  if (options.kind !== undefined) g.kind = options.kind;
  return g;
}

function sortRows(n: number, offsets: Int32Array, nb: Int32Array, w: Float64Array | undefined): void {
  for (let v = 0; v < n; v++) {
    const a = offsets[v]!;
    const b = offsets[v + 1]!;
    if (b - a < 2) continue;
    if (w === undefined && b - a > 32) {
      nb.subarray(a, b).sort();
      continue;
    }
    // insertion sort: rows are short (or already nearly sorted)
    for (let i = a + 1; i < b; i++) {
      const x = nb[i]!;
      const wx = w === undefined ? 0 : w[i]!;
      let j = i - 1;
      while (j >= a && nb[j]! > x) {
        nb[j + 1] = nb[j]!;
        if (w !== undefined) w[j + 1] = w[j]!;
        j--;
      }
      nb[j + 1] = x;
      if (w !== undefined) w[j + 1] = wx;
    }
  }
}

/** A growable pair of edge arrays. */
class EdgeBuffer {
  src: Int32Array;
  dst: Int32Array;
  m = 0;
  constructor(capacity: number) {
    const c = Math.max(16, Math.ceil(capacity));
    this.src = new Int32Array(c);
    this.dst = new Int32Array(c);
  }
  push(u: number, v: number): void {
    if (this.m === this.src.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.src = grow(this.src);
      this.dst = grow(this.dst);
    }
    this.src[this.m] = u;
    this.dst[this.m] = v;
    this.m++;
  }
}

function requireInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new CivitasError("usage", `graph: ${name} must be an integer ${range}, got ${value}`);
  }
}

const MAX_NODES = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------------
// Generators

/**
 * The complete graph K_n. Implicit by default (no edge lists; dynamics draw partners directly);
 * `explicit: true` also materialises the n(n-1) adjacency entries for code that walks them.
 */
export function completeGraph(n: number, options: { explicit?: boolean } = {}): Graph {
  requireInt("n", n, 0, MAX_NODES);
  if (!options.explicit) {
    return { n, offsets: new Int32Array(n + 1), neighbors: new Int32Array(0), directed: false, kind: "complete" };
  }
  if (n * (n - 1) > 2 ** 28) {
    throw new CivitasError("usage", `graph: an explicit complete graph on ${n} nodes would hold ${n * (n - 1)} entries`, {
      hint: "use the implicit complete graph (the default)",
    });
  }
  const offsets = new Int32Array(n + 1);
  const neighbors = new Int32Array(n * (n - 1));
  let k = 0;
  for (let v = 0; v < n; v++) {
    offsets[v] = k;
    for (let u = 0; u < n; u++) if (u !== v) neighbors[k++] = u;
  }
  offsets[n] = k;
  return { n, offsets, neighbors, directed: false, kind: "complete" };
}

/**
 * Erdos-Renyi G(n, p): each of the n(n-1)/2 pairs is an edge independently with probability p
 * (or p = meanDegree / (n - 1)). O(n + m) by geometric skipping over the pairs (Batagelj and
 * Brandes, "Efficient generation of large random networks", Phys. Rev. E 71, 036113, 2005).
 */
export function erdosRenyi(n: number, spec: { p: number } | { meanDegree: number }, seed: number): Graph {
  requireInt("n", n, 0, MAX_NODES);
  const p = "p" in spec ? spec.p : n > 1 ? spec.meanDegree / (n - 1) : 0;
  if (!(p >= 0 && p <= 1)) {
    const what = "p" in spec ? `p = ${spec.p}` : `meanDegree = ${spec.meanDegree} (p = ${p})`;
    throw new CivitasError("usage", `graph: Erdos-Renyi needs 0 <= p <= 1 (0 <= meanDegree <= n - 1), got ${what}`);
  }
  const pairs = (n * (n - 1)) / 2;
  const expected = p * pairs;
  const edges = new EdgeBuffer(Math.min(pairs, expected + 6 * Math.sqrt(expected) + 16));
  if (p > 0 && n > 1) {
    const rng = seededRng(seed);
    const lq = Math.log1p(-p); // log(1 - p); -Infinity when p = 1 (every pair)
    let v = 1;
    let w = -1;
    while (v < n) {
      // skip a geometric number of pairs (v, w), w < v, in row-major order
      const r = rng.float();
      w += 1 + (p === 1 ? 0 : Math.floor(Math.log1p(-r) / lq));
      while (w >= v && v < n) {
        w -= v;
        v++;
      }
      if (v < n) edges.push(v, w);
    }
  }
  return csrFromEdges(n, edges.src, edges.dst, edges.m);
}

/**
 * Watts-Strogatz small world (Watts and Strogatz, "Collective dynamics of 'small-world'
 * networks", Nature 393, 1998): a ring where each node is joined to its k/2 nearest neighbours on
 * each side, then each edge (u, u + j) is rewired with probability beta to (u, w), w uniform
 * among the nodes that are neither u nor already adjacent to u. Edges are visited lap by lap
 * (j = 1 .. k/2, then u = 0 .. n-1), as in the original and in networkx. The number of edges,
 * n k / 2, is unchanged by rewiring.
 */
export function wattsStrogatz(n: number, k: number, beta: number, seed: number): Graph {
  requireInt("n", n, 1, MAX_NODES);
  if (!Number.isInteger(k) || k < 0 || k % 2 !== 0 || k >= n) {
    throw new CivitasError("usage", `graph: Watts-Strogatz needs an even k with 0 <= k < n, got k = ${k}, n = ${n}`);
  }
  if (!(beta >= 0 && beta <= 1)) throw new CivitasError("usage", `graph: Watts-Strogatz needs 0 <= beta <= 1, got ${beta}`);
  const half = k / 2;
  const m = n * half;
  const src = new Int32Array(m);
  const dst = new Int32Array(m);
  for (let j = 1, e = 0; j <= half; j++) {
    for (let u = 0; u < n; u++, e++) {
      src[e] = u;
      dst[e] = (u + j) % n;
    }
  }
  if (beta > 0) {
    const rng = seededRng(seed);
    const key = (a: number, b: number) => (a < b ? a * n + b : b * n + a);
    const present = new Set<number>();
    for (let e = 0; e < m; e++) present.add(key(src[e]!, dst[e]!));
    const deg = new Int32Array(n).fill(k);
    for (let e = 0; e < m; e++) {
      if (rng.float() >= beta) continue;
      const u = src[e]!;
      if (deg[u]! >= n - 1) continue; // u is joined to everyone: nowhere to rewire to
      let w = rng.int(0, n - 1);
      while (w === u || present.has(key(u, w))) w = rng.int(0, n - 1);
      const v = dst[e]!;
      present.delete(key(u, v));
      present.add(key(u, w));
      deg[v]!--;
      deg[w]!++;
      dst[e] = w;
    }
  }
  return csrFromEdges(n, src, dst, m);
}

/**
 * Barabasi-Albert preferential attachment (Barabasi and Albert, "Emergence of scaling in random
 * networks", Science 286, 1999), as networkx builds it: start from a star on m + 1 nodes; each
 * new node joins m distinct existing nodes drawn with probability proportional to degree, by
 * uniform draws from the list in which every node appears once per unit of degree. The graph has
 * exactly m (n - m) edges, so mean degree 2m(n - m)/n.
 */
export function barabasiAlbert(n: number, m: number, seed: number): Graph {
  requireInt("m", m, 1);
  if (!Number.isInteger(n) || n <= m || n > MAX_NODES) {
    throw new CivitasError("usage", `graph: Barabasi-Albert needs an integer n > m, got n = ${n}, m = ${m}`);
  }
  const edgesTotal = m * (n - m);
  const src = new Int32Array(edgesTotal);
  const dst = new Int32Array(edgesTotal);
  const repeated = new Int32Array(2 * edgesTotal);
  let e = 0;
  let r = 0;
  for (let leaf = 1; leaf <= m; leaf++) {
    src[e] = 0;
    dst[e++] = leaf;
    repeated[r++] = 0;
    repeated[r++] = leaf;
  }
  const rng = seededRng(seed);
  const targets = new Int32Array(m);
  for (let source = m + 1; source < n; source++) {
    let t = 0;
    while (t < m) {
      const x = repeated[rng.int(0, r - 1)]!;
      let dup = false;
      for (let i = 0; i < t; i++) if (targets[i] === x) dup = true;
      if (!dup) targets[t++] = x;
    }
    for (let i = 0; i < m; i++) {
      src[e] = source;
      dst[e++] = targets[i]!;
      repeated[r++] = targets[i]!;
      repeated[r++] = source;
    }
  }
  return csrFromEdges(n, src, dst, e);
}

/**
 * A width x height grid, node (x, y) = y * width + x, joined to its 4 neighbours (von Neumann);
 * on a torus the borders wrap around (needs width, height >= 3 so no edge is doubled).
 */
export function lattice2d(width: number, height: number, options: { torus?: boolean } = {}): Graph {
  requireInt("width", width, 1);
  requireInt("height", height, 1);
  if (width * height > MAX_NODES) throw new CivitasError("usage", `graph: lattice of ${width} x ${height} is too large`);
  const torus = options.torus ?? false;
  if (torus && (width < 3 || height < 3)) {
    throw new CivitasError("usage", `graph: a torus needs width and height >= 3, got ${width} x ${height}`);
  }
  const n = width * height;
  const edges = new EdgeBuffer(2 * n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = y * width + x;
      if (x + 1 < width) edges.push(v, v + 1);
      else if (torus) edges.push(v, y * width);
      if (y + 1 < height) edges.push(v, v + width);
      else if (torus) edges.push(v, x);
    }
  }
  return csrFromEdges(n, edges.src, edges.dst, edges.m);
}

// ---------------------------------------------------------------------------------------------
// Edge lists

export interface EdgeListOptions {
  /** Name of the source in error messages (a file path). */
  source?: string;
  /** Arcs u -> v only (default: undirected, each line joins u and v both ways). */
  directed?: boolean;
  /** Number of nodes (default: largest id + 1); ids are integers 0 .. n-1. */
  n?: number;
}

/**
 * Reads an edge list: one edge per line, `u v` or `u v w` (w a finite weight; default 1 when
 * some lines have one), separated by spaces, tabs or commas; `#` starts a comment; blank lines
 * are skipped. Node ids are non-negative integers. Self-loops are kept (a DeGroot agent's trust
 * in itself). An edge given twice (in an undirected graph also as `v u`) is kept once; if the two
 * lines give different weights that is an error naming both. Errors name the source and line.
 */
export function parseEdgeList(text: string, options: EdgeListOptions = {}): Graph {
  const source = options.source ?? "edge list";
  const directed = options.directed ?? false;
  const us: number[] = [];
  const vs: number[] = [];
  const ws: number[] = [];
  const lineOf: number[] = [];
  let weighted = false;
  let maxId = -1;
  // A UTF-8 byte order mark is accepted, as in every text file civitas reads.
  const lines = text.replace(/^\uFEFF/u, "").split(/\r?\n/);
  // Messages never quote a line that is not an edge: a scenario may name any file (file:/etc/passwd).
  const bad = (line: number, what: string) =>
    new CivitasError("input", `${source}:${line}: ${what}`, { hint: "each line is `u v` or `u v weight`, node ids 0, 1, 2, ...; # starts a comment" });
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i]!.indexOf("#");
    const body = (hash >= 0 ? lines[i]!.slice(0, hash) : lines[i]!).trim();
    if (body === "") continue;
    const fields = body.split(/[\s,]+/);
    if (fields.length < 2 || fields.length > 3) throw bad(i + 1, `expected 2 or 3 fields (u v, or u v weight), got ${fields.length === 1 ? "1 field" : `${fields.length} fields`}`);
    const ids = [fields[0]!, fields[1]!].map((f, k) => {
      if (!/^\d+$/.test(f)) throw bad(i + 1, `field ${k + 1} is not a node id (a non-negative integer)`);
      const id = Number(f);
      if (id >= MAX_NODES) throw bad(i + 1, `node id ${f} is too large`);
      return id;
    });
    let w = 1;
    if (fields.length === 3) {
      w = Number(fields[2]);
      if (fields[2]!.trim() === "" || !Number.isFinite(w)) throw bad(i + 1, "field 3, the weight, is not a finite number");
      weighted = true;
    }
    us.push(ids[0]!);
    vs.push(ids[1]!);
    ws.push(w);
    lineOf.push(i + 1);
    maxId = Math.max(maxId, ids[0]!, ids[1]!);
  }
  let n = maxId + 1;
  if (options.n !== undefined) {
    requireInt("n", options.n, 0, MAX_NODES);
    if (options.n <= maxId) {
      const e = us.findIndex((u, k) => Math.max(u, vs[k]!) >= options.n!);
      throw bad(lineOf[e]!, `node id ${Math.max(us[e]!, vs[e]!)} is not below n = ${options.n}`);
    }
    n = options.n;
  }
  // Duplicates: order the edges by their (canonical) endpoints, keep the first of each run.
  const a = (e: number) => (directed || us[e]! <= vs[e]! ? us[e]! : vs[e]!);
  const b = (e: number) => (directed || us[e]! <= vs[e]! ? vs[e]! : us[e]!);
  const order = Array.from({ length: us.length }, (_, e) => e).sort((x, y) => a(x) - a(y) || b(x) - b(y) || x - y);
  const src = new Int32Array(order.length);
  const dst = new Int32Array(order.length);
  const wts = new Float64Array(order.length);
  let m = 0;
  let prev = -1;
  for (const e of order) {
    if (prev >= 0 && a(e) === a(prev) && b(e) === b(prev)) {
      if (ws[e] !== ws[prev]) {
        throw bad(lineOf[e]!, `edge ${us[e]} ${vs[e]} has weight ${ws[e]} but line ${lineOf[prev]} gave it weight ${ws[prev]}`);
      }
      continue;
    }
    src[m] = a(e);
    dst[m] = b(e);
    wts[m] = ws[e]!;
    m++;
    prev = e;
  }
  return csrFromEdges(n, src, dst, m, weighted ? { directed, weights: wts } : { directed });
}

/** Reads an edge-list file (see `parseEdgeList`). */
export async function loadEdgeList(path: string, options: Omit<EdgeListOptions, "source"> = {}): Promise<Graph> {
  return parseEdgeList(await readText(path, "edge list file"), { ...options, source: path });
}

// ---------------------------------------------------------------------------------------------
// Graphs named by a scenario's `graph` parameter

/**
 * Builds the graph a scenario names in its `graph` parameter, for `agents` nodes:
 * `complete`; `er:k=10` (mean degree) or `er:p=0.01`; `ws:k=4,beta=0.1`; `ba:m=3`;
 * `lattice` (square; or `lattice:width=50`), `torus` (the same, wrapped); `file:<path>`
 * (an edge list; `agents` must match its node count if given).
 */
export async function graphFromSpec(spec: string, options: { agents?: number; seed: number }): Promise<Graph> {
  const colon = spec.indexOf(":");
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  if (kind === "file") {
    const g = await loadEdgeList(rest, options.agents === undefined ? {} : { n: options.agents });
    return g;
  }
  const args = new Map<string, number>();
  for (const part of rest.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const [key, value, extra] = part.split("=");
    const v = Number(value);
    if (key === undefined || value === undefined || extra !== undefined || value.trim() === "" || !Number.isFinite(v)) {
      throw new CivitasError("usage", `graph "${spec}": "${part}" is not name=number`);
    }
    args.set(key.trim(), v);
  }
  const n = options.agents;
  if (n === undefined) throw new CivitasError("usage", `graph "${spec}": the number of agents is needed`);
  const need = (name: string): number => {
    const v = args.get(name);
    if (v === undefined) throw new CivitasError("usage", `graph "${spec}": missing ${name}=...`);
    return v;
  };
  const allow = (...names: string[]) => {
    for (const k of args.keys()) {
      if (!names.includes(k)) throw new CivitasError("usage", `graph "${spec}": unknown setting ${k} (expected ${names.join(", ") || "none"})`);
    }
  };
  switch (kind) {
    case "complete":
      allow();
      return completeGraph(n);
    case "er":
      allow("k", "p");
      if (args.has("k") === args.has("p")) throw new CivitasError("usage", `graph "${spec}": give exactly one of k= (mean degree) or p=`);
      return erdosRenyi(n, args.has("p") ? { p: need("p") } : { meanDegree: need("k") }, options.seed);
    case "ws":
      allow("k", "beta");
      return wattsStrogatz(n, need("k"), need("beta"), options.seed);
    case "ba":
      allow("m");
      return barabasiAlbert(n, need("m"), options.seed);
    case "lattice":
    case "torus": {
      allow("width");
      const width = args.get("width") ?? Math.round(Math.sqrt(n));
      if (width <= 0 || n % width !== 0) {
        throw new CivitasError("usage", `graph "${spec}": ${n} agents do not fill a grid of width ${width}`, {
          hint: "choose a square number of agents or give width= dividing it",
        });
      }
      return lattice2d(width, n / width, { torus: kind === "torus" });
    }
    default:
      throw new CivitasError("usage", `graph "${spec}": unknown kind "${kind}"`, {
        hint: "one of complete, er:k=10, er:p=0.01, ws:k=4,beta=0.1, ba:m=3, lattice, torus, file:<path>",
      });
  }
}
