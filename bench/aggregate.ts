/**
 * bench/aggregate: how fast is the margin matrix (the input of every pairwise voting rule)?
 *
 * Two profiles, each timed side by side in one process with a naive implementation:
 *   (a) impartial culture: 1,000,000 voters, each a uniformly random strict order of 10
 *       alternatives (seeded Fisher-Yates with `seededRng`), merged into unique ballots with counts
 *       (each permutation keyed by its Lehmer code); generation and merging are timed apart;
 *   (b) PrefLib-style: 100,000 unique orders of 10 alternatives with ties and truncation (as .toi
 *       files have them) and random whole weights 1..100, built with `profileFromRankings`.
 * `marginMatrix` (src/choice/profile.ts: flat typed arrays, one pass over unique ballots) is
 * compared with what one writes first: one object per voter (a) or per ballot (b) holding its
 * ranking as a JS array, and a nested loop over pairs of positions adding into a JS 2-D array. Both
 * results are checked equal. Target: the margin matrix of (a) under 1 s on one core.
 *
 * Then every voting rule of src/choice/rules.ts (its RULES registry) on both profiles: margin
 * rules from the margin matrix computed once, against a 0.1 s target each (Kemeny-Young excepted),
 * ballot rules (plurality, Borda, IRV) from the profile.
 *
 * Then (c) the PrefLib file of profile (a), written with writePrefLib (about 21 MB at 1,000,000
 * voters): `readPrefLibWithWarnings` (target >= 100 MB/s), and the whole process, `node
 * dist/cli/main.js aggregate FILE --no-store --json` (all rules; target <= 1.5 s at 1,000,000 x
 * 10), with its peak memory beside the same orders with every count x 1000 (a billion voters: the
 * memory must not grow with the voters). Beside them, the pref_voting 1.18.1 figures issue 17
 * reports for the same size (measured there, not here: pref_voting is Python and not installed).
 *
 *   npx tsx bench/aggregate.ts                       # 1,000,000 voters, 100,000 orders, 5 rounds
 *   npx tsx bench/aggregate.ts --short               # the same, 3 rounds (well under a minute)
 *   npx tsx bench/aggregate.ts --voters 200000 --orders 20000 --rounds 3 --seed 7
 *   npx tsx bench/aggregate.ts --short --baseline 9eed593   # (c)'s parse beside src/choice/preflib.ts of that commit
 *
 * `--baseline REV` times the PrefLib parser of another commit (`git show REV:src/choice/preflib.ts`,
 * run from a temporary copy) and this one in alternation, on the same file in the same process,
 * and prints both and their ratio: on a shared machine, absolute figures drift from minute to
 * minute, the ratio much less. Wall time and CPU time (user + system, the process's) are both shown.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { seededRng, type Rng } from "../src/metrics/rng.js";
import { CivitasError } from "../src/errors.js";
import { marginMatrix, profileFromRankings, type MarginMatrix, type Profile, type Ranking } from "../src/choice/profile.js";
import { borda, readPrefLibWithWarnings, RULES, writePrefLib } from "../src/choice/index.js";

const { values: flags } = parseArgs({
  options: {
    voters: { type: "string" },
    orders: { type: "string" },
    alternatives: { type: "string", default: "10" },
    rounds: { type: "string" },
    seed: { type: "string", default: "0" },
    short: { type: "boolean", default: false },
    baseline: { type: "string" },
  },
});
// --short: the same profiles, 3 rounds instead of 5 (about 20 s on a busy 2-core machine).
flags.voters ??= "1000000";
flags.orders ??= "100000";
flags.rounds ??= flags.short ? "3" : "5";
const whole = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${v}`);
  return n;
};
const VOTERS = whole("voters", flags.voters, 1);
const ORDERS = whole("orders", flags.orders, 1);
const M = whole("alternatives", flags.alternatives, 2);
const ROUNDS = whole("rounds", flags.rounds, 1);
const SEED = whole("seed", flags.seed, 0);
if (M > 12) throw new Error("--alternatives must be 12 or fewer (impartial culture keys permutations by their Lehmer code, m! must fit an array)");

const names = Array.from({ length: M }, (_, i) => `alt${i + 1}`);

function time<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
}

const fmt = (ms: number): string =>
  Number.isNaN(ms) ? "" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(ms < 10 ? 2 : 0)} ms` : `${(ms * 1000).toFixed(0)} µs`;
const row = (what: string, ms: number, extra = ""): void => console.log(`  ${what.padEnd(52)} ${fmt(ms).padStart(10)}${extra ? `   ${extra}` : ""}`);

// ---------------------------------------------------------------- the naive implementation
interface NaiveVoter {
  /** Tiers best first, each a list of alternatives; unranked alternatives absent. */
  ranking: number[][];
  weight: number;
}

function naiveSupport(voters: readonly NaiveVoter[], m: number): number[][] {
  const support: number[][] = [];
  for (let i = 0; i < m; i++) support.push(new Array<number>(m).fill(0));
  for (const v of voters) {
    const r = v.ranking;
    for (let i = 0; i < r.length; i++) {
      for (let j = i + 1; j < r.length; j++) {
        for (const a of r[i]!) for (const b of r[j]!) support[a]![b]! += v.weight;
      }
    }
  }
  return support;
}

function naiveMargins(voters: readonly NaiveVoter[], m: number): number[][] {
  const s = naiveSupport(voters, m);
  return s.map((r, i) => r.map((x, j) => x - s[j]![i]!));
}

function checkEqual(mm: MarginMatrix, naive: number[][], what: string): void {
  for (let i = 0; i < mm.m; i++) {
    for (let j = 0; j < mm.m; j++) {
      if (mm.margin[i * mm.m + j] !== naive[i]![j]) throw new Error(`${what}: margin[${i}][${j}] is ${mm.margin[i * mm.m + j]} by marginMatrix, ${naive[i]![j]} by the naive loop`);
    }
  }
}

/** Times marginMatrix and the naive loop in alternation; prints medians and the ratio. */
function compare(label: string, p: Profile, voters: readonly NaiveVoter[]): MarginMatrix {
  const fast: number[] = [];
  const slow: number[] = [];
  const fastExt: number[] = [];
  let mm: MarginMatrix | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    const f = time(() => marginMatrix(p));
    fast.push(f.ms);
    mm = f.value;
    const s = time(() => naiveMargins(voters, M));
    slow.push(s.ms);
    const fe = time(() => marginMatrix(p, { extendTruncated: true }));
    fastExt.push(fe.ms);
    if (r === 0) {
      checkEqual(f.value, s.value, label);
    }
  }
  const fm = median(fast);
  const sm = median(slow);
  row(`marginMatrix (${p.size.toLocaleString("en")} unique ballots)`, fm, `min ${fmt(Math.min(...fast))}${fm < 1000 ? "" : "  OVER 1 s"}`);
  row(`naive (${voters.length.toLocaleString("en")} objects, JS 2-D array)`, sm, `min ${fmt(Math.min(...slow))}`);
  console.log(`  ${"ratio naive / marginMatrix".padEnd(52)} ${(sm / fm).toFixed(2).padStart(8)} x`);
  row("marginMatrix, extendTruncated", median(fastExt));
  return mm!;
}


// ---------------------------------------------------------------- (a) impartial culture
function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

/** voters x m alternative indices, each row a uniformly random permutation (best first). */
function impartialCulture(rng: Rng, voters: number, m: number): Uint8Array {
  const out = new Uint8Array(voters * m);
  const perm = new Uint8Array(m);
  for (let v = 0; v < voters; v++) {
    for (let i = 0; i < m; i++) perm[i] = i;
    for (let i = m - 1; i > 0; i--) {
      const j = rng.int(0, i);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    out.set(perm, v * m);
  }
  return out;
}

/** Merges identical permutations (keyed by their Lehmer code) into a profile, in order of first appearance. */
function mergePermutations(orders: Uint8Array, voters: number, m: number): Profile {
  const slot = new Int32Array(factorial(m)).fill(-1);
  const firstVoter: number[] = [];
  const counts: number[] = [];
  const seen = new Uint8Array(m);
  for (let v = 0; v < voters; v++) {
    // Lehmer code: for each position, how many unused alternatives are smaller.
    seen.fill(0);
    let code = 0;
    for (let i = 0; i < m; i++) {
      const a = orders[v * m + i]!;
      let smaller = 0;
      for (let b = 0; b < a; b++) if (!seen[b]) smaller++;
      seen[a] = 1;
      code = code * (m - i) + smaller;
    }
    const s = slot[code]!;
    if (s < 0) {
      slot[code] = counts.length;
      firstVoter.push(v);
      counts.push(1);
    } else {
      counts[s]!++;
    }
  }
  const ranks = new Int32Array(counts.length * m);
  firstVoter.forEach((v, b) => {
    for (let i = 0; i < m; i++) ranks[b * m + orders[v * m + i]!] = i;
  });
  return { alternatives: names, size: counts.length, ranks, counts: Float64Array.from(counts), metadata: { TITLE: "impartial culture" } };
}

// ---------------------------------------------------------------- (b) PrefLib-style
/** `count` distinct random orders with ties (each adjacent pair tied with probability 0.2) and truncation (half the orders cut at a random length). */
function prefLibStyle(rng: Rng, count: number, m: number): { rankings: Ranking[]; weights: number[] } {
  const seen = new Set<string>();
  const rankings: Ranking[] = [];
  const weights: number[] = [];
  const perm: number[] = [];
  while (rankings.length < count) {
    for (let i = 0; i < m; i++) perm[i] = i;
    for (let i = m - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const length = rng.float() < 0.5 ? m : rng.int(1, m - 1);
    const tiers: number[][] = [];
    for (let i = 0; i < length; i++) {
      if (i > 0 && rng.float() < 0.2) tiers[tiers.length - 1]!.push(perm[i]!);
      else tiers.push([perm[i]!]);
    }
    const key = tiers.map((t) => [...t].sort((x, y) => x - y).join(" ")).join("|");
    if (seen.has(key)) continue;
    seen.add(key);
    rankings.push(tiers);
    weights.push(rng.int(1, 100));
  }
  return { rankings, weights };
}

// ---------------------------------------------------------------- run
console.log(`bench/aggregate${flags.short ? " --short" : ""} · node ${process.version} · seed ${SEED} · medians of ${ROUNDS} rounds\n`);

console.log(`(a) impartial culture: ${VOTERS.toLocaleString("en")} voters x ${M} alternatives`);
const rngA = seededRng(SEED);
const gen = time(() => impartialCulture(rngA, VOTERS, M));
row("generate (seeded Fisher-Yates)", gen.ms);
const merged = time(() => mergePermutations(gen.value, VOTERS, M));
row(`merge into unique ballots (Lehmer codes)`, merged.ms, `${merged.value.size.toLocaleString("en")} unique of ${factorial(M).toLocaleString("en")} possible`);
const icVoters: NaiveVoter[] = [];
for (let v = 0; v < VOTERS; v++) {
  const ranking: number[][] = [];
  for (let i = 0; i < M; i++) ranking.push([gen.value[v * M + i]!]);
  icVoters.push({ ranking, weight: 1 });
}
const mmA = compare("impartial culture", merged.value, icVoters);
icVoters.length = 0;

console.log(`\n(b) PrefLib-style: ${ORDERS.toLocaleString("en")} unique orders x ${M} alternatives, ties and truncation, weights 1..100`);
const rngB = seededRng(SEED + 1);
const pl = time(() => prefLibStyle(rngB, ORDERS, M));
row("generate", pl.ms);
const built = time(() => profileFromRankings(names, pl.value.rankings, pl.value.weights));
row("profileFromRankings", built.ms, `${built.value.size.toLocaleString("en")} ballots, ${built.value.counts.reduce((s, c) => s + c, 0).toLocaleString("en")} voters`);
const plBallots: NaiveVoter[] = pl.value.rankings.map((r, k) => ({ ranking: r.map((t) => [...t]), weight: pl.value.weights[k]! }));
const mmB = compare("PrefLib-style", built.value, plBallots);

// ---------------------------------------------------------------- voting rules
// Every rule of src/choice/rules.ts's registry: margin rules from the margin matrix (computed
// once, above), target < 0.1 s each (Kemeny-Young excepted: exact, O(2^m m)); ballot rules from the
// profile (they cannot use the margins), timed for information. A rule that refuses the input
// (plurality and IRV refuse ties by default) is reported with its reason.
function timeRules(label: string, p: Profile, mm: MarginMatrix): void {
  console.log(`\nvoting rules on ${label} (margin rules from its margin matrix; target < 0.1 s each, Kemeny-Young excepted)`);
  for (const rule of RULES) {
    const ms: number[] = [];
    let refused: string | undefined;
    for (let r = 0; r < ROUNDS && refused === undefined; r++) {
      try {
        // Borda is margin-sum Borda: from the margins when no ballot leaves an alternative out (as runRules does).
        const bordaFromMargins = rule.id === "borda" && !p.ranks.includes(-1);
        ms.push(time(() => (rule.kind === "margins" ? rule.run(mm) : bordaFromMargins ? borda(p, mm) : rule.run(p))).ms);
      } catch (e) {
        if (!(e instanceof CivitasError)) throw e;
        refused = e.message;
      }
    }
    const what = `${rule.name} (${rule.kind === "margins" ? "margins" : "ballots"})`;
    if (refused !== undefined) {
      console.log(`  ${what.padEnd(52)} ${"refused".padStart(10)}   ${refused.length > 70 ? `${refused.slice(0, 67)}...` : refused}`);
      continue;
    }
    const t = median(ms);
    const verdict = rule.id === "borda" && !p.ranks.includes(-1) ? (t < 100 ? "ok (from the margins)" : "OVER 0.1 s") : rule.kind === "ballots" ? "reads every ballot" : rule.id === "kemeny-young" ? "exempt" : t < 100 ? "ok" : "OVER 0.1 s";
    row(what, t, verdict);
  }
}
timeRules(`(a) impartial culture, ${merged.value.size.toLocaleString("en")} unique ballots`, merged.value, mmA);
timeRules(`(b) PrefLib-style, ${built.value.size.toLocaleString("en")} unique ballots`, built.value, mmB);

// ---------------------------------------------------------------- (c) a PrefLib file, and the whole process
/** The whole process on one file: wall time and the child's peak RSS (it reports it at exit). */
function wholeProcess(file: string): Promise<{ ms: number; maxRssMb: number; code: number | null }> {
  const cli = path.join(import.meta.dirname, "../dist/cli/main.js");
  const report = `data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss "+process.resourceUsage().maxRSS+"\\n"))`;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--import", report, cli, "aggregate", file, "--no-store", "--json"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      const rss = /maxrss (\d+)/u.exec(err);
      if (code !== 0) console.log(`  the CLI exited ${code}: ${err.trim().split("\n")[0]}`);
      resolve({ ms, maxRssMb: rss ? Number(rss[1]) / 1024 : Number.NaN, code });
    });
  });
}

{
  const dir = mkdtempSync(path.join(os.tmpdir(), "civitas-bench-aggregate-"));
  try {
    const file = path.join(dir, "impartial-culture.soc");
    const written = time(() => writePrefLib(merged.value));
    writeFileSync(file, written.value);
    const many = path.join(dir, "impartial-culture-x1000.soc");
    writeFileSync(many, writePrefLib({ ...merged.value, counts: merged.value.counts.map((c) => c * 1000) }));
    const mb = statSync(file).size / 1e6;
    console.log(`\n(c) the PrefLib file of (a): ${mb.toFixed(1)} MB, ${merged.value.size.toLocaleString("en")} order lines`);
    type Reader = typeof readPrefLibWithWarnings;
    const readers: { name: string; read: Reader; wall: number[]; cpu: number[] }[] = [{ name: "readPrefLibWithWarnings (parse)", read: readPrefLibWithWarnings, wall: [], cpu: [] }];
    if (flags.baseline !== undefined) readers.push({ name: `  the same, src/choice/preflib.ts of ${flags.baseline}`, read: await baselineReader(flags.baseline, dir), wall: [], cpu: [] });
    for (let r = 0; r < ROUNDS; r++) {
      // In alternation, each first in every other round.
      for (const reader of r % 2 === 0 ? readers : [...readers].reverse()) {
        const c0 = process.cpuUsage();
        const t = performance.now();
        const parsed = await reader.read(file);
        reader.wall.push(performance.now() - t);
        const c = process.cpuUsage(c0);
        reader.cpu.push((c.user + c.system) / 1000);
        if (parsed.profile.size !== merged.value.size) throw new Error(`${reader.name}: parsed ${parsed.profile.size} ballots, wrote ${merged.value.size}`);
      }
    }
    for (const reader of readers) {
      const pm = median(reader.wall);
      const cm = median(reader.cpu);
      row(reader.name, pm, `${(mb / (pm / 1000)).toFixed(0)} MB/s${mb / (pm / 1000) >= 100 ? "" : "  UNDER 100 MB/s"} · CPU ${fmt(cm)} (${(mb / (cm / 1000)).toFixed(0)} MB/s)`);
    }
    if (readers.length === 2) {
      const [now, base] = readers as [(typeof readers)[0], (typeof readers)[0]];
      const ratios = now.wall.map((w, r) => base.wall[r]! / w);
      console.log(
        `  speed of this commit's parser / ${flags.baseline}'s: ${(median(base.wall) / median(now.wall)).toFixed(2)} (wall medians), ` +
          `${median(ratios).toFixed(2)} (median of the rounds' ratios), ${(median(base.cpu) / median(now.cpu)).toFixed(2)} (CPU medians)`,
      );
    }
    if (!existsSync(path.join(import.meta.dirname, "../dist/cli/main.js"))) {
      console.log("  whole process: dist/cli/main.js is missing (npm run build)");
    } else {
      const whole: number[] = [];
      const rss: number[] = [];
      const rssMany: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const w = await wholeProcess(file);
        whole.push(w.ms);
        rss.push(w.maxRssMb);
        rssMany.push((await wholeProcess(many)).maxRssMb);
      }
      const wm = median(whole);
      row(`whole process: civitas aggregate FILE --no-store --json`, wm, `${wm <= 1500 ? "" : "OVER 1.5 s  "}peak RSS ${median(rss).toFixed(0)} MB`);
      row(`  the same orders, every count x 1000 (${(totalOf(merged.value) * 1000).toLocaleString("en")} voters)`, Number.NaN, `peak RSS ${median(rssMany).toFixed(0)} MB`);
      console.log("\n  issue 17's figures (pref_voting 1.18.1 and civitas before it; measured there, not in this run):");
      console.log("    pref_voting, whole process, 1,000,000 voters x 10 alternatives, all rules but Kemeny-Young: 35.1 s");
      console.log("    civitas before issue 17, same file: 5.0 s whole process, of which 2.84 s parsing 21 MB and 0.41 s margins");
      console.log(`    this run's whole process against pref_voting's 35.1 s: ${(35100 / wm).toFixed(1)}x (target >= 20x); against civitas' 5.0 s: ${(5000 / wm).toFixed(1)}x`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * readPrefLibWithWarnings of src/choice/preflib.ts at commit `rev`: the file copied into `dir`,
 * its two imports pointed at this checkout's src/errors.ts and src/choice/profile.ts.
 */
async function baselineReader(rev: string, dir: string): Promise<typeof readPrefLibWithWarnings> {
  const root = path.join(import.meta.dirname, "..");
  const text = execFileSync("git", ["show", `${rev}:src/choice/preflib.ts`], { cwd: root, encoding: "utf8" });
  const at = (p: string) => JSON.stringify(pathToFileURL(path.join(root, p)).href);
  const patched = text.replace(/"\.\.\/errors\.js"/u, at("src/errors.ts")).replace(/"\.\/profile\.js"/u, at("src/choice/profile.ts"));
  const copy = path.join(dir, "preflib-baseline.mts");
  writeFileSync(copy, patched);
  const mod = (await import(pathToFileURL(copy).href)) as { readPrefLibWithWarnings: typeof readPrefLibWithWarnings };
  return mod.readPrefLibWithWarnings;
}

function totalOf(p: Profile): number {
  let s = 0;
  for (const c of p.counts) s += c;
  return s;
}
