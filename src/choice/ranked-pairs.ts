/**
 * Ranked Pairs (Tideman 1987), every winner over all tie-breakings of equal margins.
 */
import { CivitasError } from "../errors.js";
import { splitCycle } from "./beat-path.js";
import { condorcetIndex } from "./condorcet.js";
import { prepare } from "./margins.js";
import type { MarginMatrix } from "./profile.js";
import type { RuleResult } from "./rule-result.js";

export interface RankedPairsOptions {
  /**
   * Most search states to visit before giving up (default 200,000; each is remembered, a few
   * hundred bytes). Only approached with many equal margins that interlock in cycles (random
   * tournaments of 10 to 30 alternatives with margins 1 and 3 needed at most 256): deciding
   * whether an alternative is a Ranked Pairs winner
   * over all tie-breakings is NP-complete (Brill & Fischer 2012, "The Price of Neutrality for the
   * Ranked Pairs Method", AAAI).
   */
  readonly maxStates?: number;
}

/**
 * Ranked Pairs (Tideman 1987; pref_voting `ranked_pairs`): lock in majority edges from the largest
 * margin down, skipping an edge that would close a cycle with edges already locked; the winner is
 * the alternative nothing locked points to. Edges with equal margins can be taken in any order, and
 * an alternative wins if it wins under SOME order of each group of equal margins (pref_voting takes
 * every permutation of every group; "parallel universes" tie-breaking).
 *
 * pref_voting also locks the zero-margin pairs, in both directions, after all majority edges; that
 * only orders the alternatives the majority edges leave unordered, so it adds exactly the other
 * maximal elements of the locked order: civitas returns every alternative no locked edge points to,
 * over all tie-breakings.
 *
 * Algorithm (exact, without enumerating tie-breakings):
 * 1. a Condorcet winner wins; every Ranked Pairs winner is a Split Cycle winner (an edge x -> c that
 *    c cannot block by a path back of margins >= its own is locked in every order), so a unique
 *    Split Cycle winner wins;
 * 2. if no group of equal margins ever closes a cycle, every order gives the same locked relation:
 *    lock and read it off (the usual case, and always when margins are distinct);
 * 3. otherwise, for each Split Cycle winner, a greedy completion that locks the edges leaving its
 *    reach first; every alternative a completion leaves unbeaten is a winner;
 * 4. each Split Cycle winner still undecided is decided exactly with Zavist & Tideman's (1989)
 *    characterisation, which pref_voting also implements (`is_stack`): c is a Ranked Pairs winner
 *    iff c tops a "stack", a linear order in which whenever a is above b some path from a down to b
 *    in the order has every margin >= margin(b, a). The stack is searched top-down from c: for each
 *    placed a and margin level w it keeps the placed alternatives reachable from a downwards by
 *    margins >= w, which decides whether the next alternative may be placed; a branch is dropped
 *    when some unplaced alternative could no longer be placed whatever follows (reachability through
 *    the unplaced ones), and failed states are remembered.
 */
export function rankedPairs(mm: MarginMatrix, options: RankedPairsOptions = {}): RuleResult {
  const g = prepare(mm, "ranked pairs");
  const { m, M } = g;
  const maxStates = options.maxStates ?? 200_000;
  if (!(Number.isInteger(maxStates) && maxStates >= 1)) throw new CivitasError("usage", `ranked pairs: maxStates must be a whole number >= 1, got ${maxStates}`);
  const cw = condorcetIndex(g);
  if (cw >= 0) return { winners: [cw] }; // every tie-breaking elects the Condorcet winner (pref_voting shortcut)
  const sc = splitCycle(mm).winners;
  if (sc.length === 1) return { winners: sc };

  // majority edges sorted by margin, descending; group q is edges gStart[q] .. gStart[q + 1] - 1
  const list: { a: number; b: number; w: number }[] = [];
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (M[a * m + b]! > 0) list.push({ a, b, w: M[a * m + b]! });
  list.sort((x, y) => y.w - x.w);
  const E = list.length;
  const ea = Int32Array.from(list, (e) => e.a);
  const eb = Int32Array.from(list, (e) => e.b);
  const gStart: number[] = [];
  for (let k = 0; k < E; k++) if (k === 0 || list[k]!.w !== list[k - 1]!.w) gStart.push(k);
  gStart.push(E);
  const G = gStart.length - 1;

  const W = (m + 31) >>> 5; // words per bitset
  const bit = (set: Uint32Array, at: number, j: number) => (set[at + (j >>> 5)]! & (1 << (j & 31))) !== 0;
  const setBit = (set: Uint32Array, at: number, j: number) => {
    set[at + (j >>> 5)] = set[at + (j >>> 5)]! | (1 << (j & 31));
  };
  // a locked relation, transitively closed: bit j of row i (at i * W) when i reaches j
  const has = (s: Uint32Array, i: number, j: number) => bit(s, i * W, j);
  const lock = (s: Uint32Array, a: number, b: number) => {
    for (let x = 0; x < m; x++) {
      if (x !== a && !has(s, x, a)) continue;
      setBit(s, x * W, b);
      for (let k = 0; k < W; k++) s[x * W + k] = s[x * W + k]! | s[b * W + k]!;
    }
  };
  const isOpen = (s: Uint32Array, k: number) => !has(s, eb[k]!, ea[k]!) && !has(s, ea[k]!, eb[k]!);
  const found = new Uint8Array(m);
  const pointed = new Uint32Array(W);
  const record = (s: Uint32Array) => {
    pointed.fill(0);
    for (let x = 0; x < m; x++) for (let k = 0; k < W; k++) pointed[k] = pointed[k]! | s[x * W + k]!;
    for (let y = 0; y < m; y++) if (!bit(pointed, 0, y)) found[y] = 1;
  };
  const winnersOf = () => {
    const winners: number[] = [];
    for (let y = 0; y < m; y++) if (found[y] === 1) winners.push(y);
    return { winners };
  };

  // 2. one pass while no group of equal margins closes a cycle
  let s = new Uint32Array(m * W);
  let q = 0;
  for (; q < G; q++) {
    const all = s.slice();
    for (let k = gStart[q]!; k < gStart[q + 1]!; k++) if (isOpen(s, k)) lock(all, ea[k]!, eb[k]!);
    let cyclic = false;
    for (let x = 0; x < m && !cyclic; x++) if (has(all, x, x)) cyclic = true;
    if (cyclic) break;
    s = all;
  }
  if (q === G) {
    record(s);
    return winnersOf();
  }

  // 3. greedy completions, each favouring one Split Cycle winner
  for (const c of sc) {
    if (found[c] === 1) continue;
    const t = s.slice();
    for (let r = q; r < G; r++) {
      for (;;) {
        let pick = -1;
        let rank = 3;
        for (let k = gStart[r]!; k < gStart[r + 1]! && rank > 0; k++) {
          if (!isOpen(t, k)) continue;
          const v = ea[k] === c || has(t, c, ea[k]!) ? 0 : eb[k] === c ? 2 : 1;
          if (v < rank) {
            rank = v;
            pick = k;
          }
        }
        if (pick < 0) break;
        lock(t, ea[pick]!, eb[pick]!);
      }
    }
    record(t);
  }
  if (sc.every((c) => found[c] === 1)) return winnersOf();

  // 4. stacks. Margin levels: the distinct positive margins; atLeast[(d * m + v) * W]: {u : margin(u, v) >= level d};
  // from[(d * m + u) * W]: {v : margin(u, v) >= level d}
  const levels = [...new Set(list.map((e) => e.w))].sort((x, y) => x - y);
  const D = levels.length;
  const levelOf = new Map(levels.map((w, d) => [w, d]));
  const atLeast = new Uint32Array(D * m * W);
  const from = new Uint32Array(D * m * W);
  for (let d = 0; d < D; d++) {
    for (let u = 0; u < m; u++) {
      for (let v = 0; v < m; v++) {
        if (u !== v && M[u * m + v]! >= levels[d]!) {
          setBit(atLeast, (d * m + v) * W, u);
          setBit(from, (d * m + u) * W, v);
        }
      }
    }
  }
  // try to place strong alternatives (many majority wins) first
  const wins = new Array<number>(m).fill(0);
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (M[a * m + b]! > 0) wins[a]!++;
  const tryOrder = [...Array(m).keys()].sort((x, y) => wins[y]! - wins[x]! || x - y);
  let states = 0;
  const reach = new Uint32Array(W);
  const next = new Uint32Array(W);

  /** Whether a stack topped by c exists. T[(a * D + d) * W]: the placed alternatives below a reachable from a downwards by margins >= level d. */
  const stackTop = (c: number): boolean => {
    const failed = new Set<string>();
    const canPlace = (T: Uint32Array, placed: Uint32Array, b: number): boolean => {
      for (let a = 0; a < m; a++) {
        if (!bit(placed, 0, a) || !(M[b * m + a]! > 0)) continue;
        const d = levelOf.get(M[b * m + a]!)!;
        // some y in {a} + T[a][d] with margin(y, b) >= margin(b, a)
        if (bit(atLeast, (d * m + b) * W, a)) continue;
        let ok = false;
        for (let k = 0; k < W && !ok; k++) if ((T[(a * D + d) * W + k]! & atLeast[(d * m + b) * W + k]!) !== 0) ok = true;
        if (!ok) return false;
      }
      return true;
    };
    const place = (T: Uint32Array, placed: Uint32Array, b: number) => {
      for (let a = 0; a < m; a++) {
        if (!bit(placed, 0, a)) continue;
        for (let d = 0; d < D; d++) {
          const at = (a * D + d) * W;
          let ok = bit(atLeast, (d * m + b) * W, a);
          for (let k = 0; k < W && !ok; k++) if ((T[at + k]! & atLeast[(d * m + b) * W + k]!) !== 0) ok = true;
          if (ok) setBit(T, at, b);
        }
      }
      setBit(placed, 0, b);
    };
    /** Whether every unplaced alternative could still be placed below every placed one it beats, whatever follows. */
    const lookahead = (T: Uint32Array, placed: Uint32Array): boolean => {
      for (let a = 0; a < m; a++) {
        if (!bit(placed, 0, a)) continue;
        for (let d = 0; d < D; d++) {
          // unplaced alternatives that beat a by exactly level d must be reachable from a by margins >= d
          let needed = false;
          for (let b = 0; b < m && !needed; b++) if (!bit(placed, 0, b) && M[b * m + a] === levels[d]) needed = true;
          if (!needed) continue;
          const at = (a * D + d) * W;
          for (let k = 0; k < W; k++) reach[k] = T[at + k]!;
          setBit(reach, 0, a);
          for (let grew = true; grew; ) {
            next.set(reach);
            for (let u = 0; u < m; u++) {
              if (!bit(reach, 0, u)) continue;
              for (let k = 0; k < W; k++) next[k] = next[k]! | (from[(d * m + u) * W + k]! & ~placed[k]!);
            }
            grew = false;
            for (let k = 0; k < W; k++) if (next[k] !== reach[k]) grew = true;
            reach.set(next);
          }
          for (let b = 0; b < m; b++) if (!bit(placed, 0, b) && M[b * m + a] === levels[d] && !bit(reach, 0, b)) return false;
        }
      }
      return true;
    };
    const search = (T: Uint32Array, placed: Uint32Array, count: number): boolean => {
      if (count === m) return true;
      const id = `${placed.join(",")}|${T.join(",")}`;
      if (failed.has(id)) return false;
      if (++states > maxStates) {
        throw new CivitasError("usage", `ranked pairs: more than ${maxStates} search states over the tie-breakings of equal margins; finding every Ranked Pairs winner with many tied margins is NP-hard (Brill & Fischer 2012)`, {
          hint: "raise { maxStates }, or use schulze or split-cycle, which handle tied margins in polynomial time",
        });
      }
      if (lookahead(T, placed)) {
        for (const b of tryOrder) {
          if (bit(placed, 0, b) || !canPlace(T, placed, b)) continue;
          const T2 = T.slice();
          const placed2 = placed.slice();
          place(T2, placed2, b);
          if (search(T2, placed2, count + 1)) return true;
        }
      }
      failed.add(id);
      return false;
    };
    const T = new Uint32Array(m * D * W);
    const placed = new Uint32Array(W);
    setBit(placed, 0, c);
    return search(T, placed, 1);
  };
  for (const c of sc) if (found[c] === 0 && stackTop(c)) found[c] = 1;
  return winnersOf();
}
