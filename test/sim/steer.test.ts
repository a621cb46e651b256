/**
 * A scenario's `steer: { method: linear, a }` (src/sim/steer.ts): every model-driven agent's
 * persona prompt decoded against its plain prompt by the two-sequence loop of src/steer/decode.ts,
 * on the real tiny model (stories260K, threads 1) and the real OpinionQA data.
 *
 * - a = 0 is the persona prompt alone: the steered run asks the same prompts as the unsteered run
 *   and gets the same label masses up to BATCH_PLACEMENT (below).
 * - a > 0: each stored answer is what the decoder gives when asked directly with the agent's
 *   prompt and its plain counterpart (the persona paragraph, or donor's strategy line, cut out here
 *   by hand from the recorded prompt), up to BATCH_PLACEMENT scaled by the weights; the prompt
 *   tokens counted are exactly both sides'.
 * - same seed, same numbers; the identity names a (cached apart); the report and config record it;
 *   a model that is not on the in-process llama backend is refused; bad `steer` sections are named.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import type { LlamaClient } from "../../src/models/index.js";
import { llamaSpec } from "../../src/models/llama.js";
import { DONOR_STRATEGIES } from "../../src/sim/agents/index.js";
import { runScenario, type SimulationReport } from "../../src/sim/run.js";
import { loadScenario, parseScenario } from "../../src/sim/scenario.js";
import { linearWeight, openLinearDecoder } from "../../src/steer/decode.js";
import { Store, type RequestRow } from "../../src/store/index.js";
import { loadOpinionQA, personasFor, resolvePopulations, splitPopulationList } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, REPO, tempDir } from "../helpers/paths.js";

/**
 * Exact where the same computation is repeated: the decoder evaluates side A, then side B, each
 * from a cleared sequence, so a steered run asked again with the same seed, and the decoder asked
 * directly on a stored prompt, give the same bits (before this order was fixed they did not: two
 * evaluations issued together were batched as timing fell). Within a tolerance where two code paths
 * compute the same distribution: a = 0 against the unsteered run, whose prompt is evaluated by the
 * run engine's client, not the decoder (batch shapes differ: docs/design.md, Reproducibility).
 * BATCH_PLACEMENT bounds |ln ratio| of a label mass between the two paths (stories260K's label
 * masses are about 0.001 to 0.03; measured up to 0.35 between placements); only masses above
 * MASS_FLOOR are compared (below it the log is dominated by the float32 softmax's rounding).
 */
const BATCH_PLACEMENT = 0.5;
const MASS_FLOOR = 1e-4;

/** Asserts |ln x - ln y| <= tol on every mass above MASS_FLOOR, and the same labels above it. */
function assertLogClose(got: readonly number[], want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  got.forEach((x, j) => {
    const y = want[j]!;
    if (Math.max(x, y) < MASS_FLOOR) return;
    assert.ok(x > 0 && y > 0 && Math.abs(Math.log(x / y)) <= tol, `${what}, label ${j}: ${x} vs ${y} (|ln ratio| tolerance ${tol})`);
  });
}

let dir: string;
before(() => {
  dir = tempDir("civitas-simsteer-");
});

// target: next, answer: mode: the prompts depend only on each agent's most likely option (B, with
// about 0.03 against at most 0.008 for the others), which the rounding seen (|ln ratio| up to 0.35
// per side) does not reorder; with target: lowest they would hang on the order of the least likely
// options (0.00506 and 0.00511 for one prompt), which it can reorder (seen: the same seed then
// asked other prompts).
const conformity = (steer: string, extra = "") => `
name: steer-tiny
dynamics: conformity
params: { agents: 4, steps: 2, max_peers: 2, answer: mode, target: next, llm_share: 1 }
model: { spec: "llama:${MODEL}", threads: 1 }
survey: { suite: opinionqa, data: "${OPINIONQA}", question: SAFECRIME_W26, attribute: POLPARTY }
seeds: 3
${steer}
${extra}`;

const donor = (steer: string) => `
name: steer-donor
dynamics: donor
params: { agents: 2, steps: 1, rounds: 2, max_tokens: 4, temperature: 0, llm_share: 1 }
model: { spec: "llama:${MODEL}", threads: 1 }
seeds: 5
${steer}
`;

async function withStore<T>(file: string, f: (s: Store) => Promise<T>): Promise<T> {
  const store = await Store.open(file);
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

/** A run and its recorded calls' stored answers, in call order. */
async function run(yaml: string, file: string): Promise<{ report: SimulationReport; rows: RequestRow[]; config: unknown }> {
  return withStore(path.join(dir, file), async (store) => {
    const report = await runScenario(parseScenario(yaml, "steer.yaml"), { store });
    const seed = report.seeds[0]!;
    const calls = await store.simCalls(report.run, 0, seed);
    const rows = await store.lookupRequests([...new Set(calls.map((c) => c.requestKey))]);
    const run = await store.findRun(report.run);
    return { report, rows: calls.map((c) => rows.get(c.requestKey)!), config: run.config };
  });
}

describe("steer: linear in a scenario", () => {
  let llama: LlamaClient;
  let personas: string[];
  before(async () => {
    llama = (await (await llamaSpec(MODEL, { threads: 1 })).open()) as LlamaClient;
    const suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
    personas = [...personasFor(suite, resolvePopulations(suite, splitPopulationList("POLPARTY"))).values()].map((p) => p.text.trim()).filter((t) => t !== "");
  });
  after(async () => {
    await llama.close();
  });

  /** The recorded prompt without its persona paragraph, cut by hand. */
  const plainOf = (prompt: string): string => {
    const persona = personas.find((p) => prompt.startsWith(`${p}\n\n`));
    assert.ok(persona !== undefined, `no persona starts ${JSON.stringify(prompt.slice(0, 60))}`);
    return prompt.slice(persona.length + 2);
  };

  it("a = 0: the same prompts as the unsteered run, the same answers (PLAIN_TOLERANCE)", async () => {
    const plain = await run(conformity(""), "plain.duckdb");
    const steered = await run(conformity("steer: { method: linear, a: 0 }"), "a0.duckdb");
    assert.ok(plain.rows.length >= 8, `${plain.rows.length} calls`);
    assert.equal(steered.rows.length, plain.rows.length);
    steered.rows.forEach((r, k) => {
      const p = plain.rows[k]!;
      assert.equal(r.prompt, p.prompt, `call ${k}`);
      assert.equal(r.model, `${p.model}+linear-decoding:a=0`, "the steered identity names a: answers cached apart");
      assertLogClose(r.labelMass, p.labelMass, BATCH_PLACEMENT, `call ${k}`);
    });
    assert.notEqual(steered.report.run, plain.report.run);
    assert.equal(steered.report.steer?.a, 0);
    assert.equal(plain.report.steer, undefined);
  });

  it("a = 0.8: every stored answer is the decoder's on the agent's persona and plain prompts; same seed, same numbers", async () => {
    const a = 0.8;
    const got = await run(conformity(`steer: { method: linear, a: ${a} }`), "a08.duckdb");
    assert.deepEqual(got.report.steer, { method: "linear", a });
    assert.deepEqual((got.config as { steer?: unknown }).steer, { method: "linear", a });
    assert.match(got.report.model, /\(linear a=0\.8\)/u);
    const decoder = await openLinearDecoder(llama);
    try {
      // The simulation asks each distinct prompt once (later calls join it): ask the decoder in that order.
      const seen = new Set<string>();
      let differs = 0;
      for (const row of got.rows) {
        assert.equal(row.model.endsWith("+linear-decoding:a=0.8"), true);
        if (seen.has(row.key)) continue;
        seen.add(row.key);
        const plain = plainOf(row.prompt);
        const want = await decoder.optionProbabilities({ prompt: row.prompt, refPrompt: plain, weight: linearWeight(a), labels: row.labels });
        assert.deepEqual(row.labelMass, want.labelMass, row.prompt.slice(0, 100));
        assert.equal(row.promptTokens, llama.tokenize(row.prompt).length + llama.tokenize(plain).length, "both sides' prompt tokens are counted");
        const alone = await decoder.optionProbabilities({ prompt: row.prompt, weight: 1, labels: row.labels });
        if (alone.labelMass.some((m, j) => Math.abs(m - row.labelMass[j]!) > 1e-3)) differs++;
      }
      assert.ok(seen.size >= 4, `${seen.size} distinct prompts`);
      assert.ok(differs > 0, "steering moved at least one answer away from the persona prompt's own");
    } finally {
      await decoder.close();
    }
    // A replay reads the record: no model, the same numbers bit for bit, steer recorded.
    const replayed = await withStore(path.join(dir, "a08.duckdb"), (store) => runScenario(parseScenario(conformity(`steer: { method: linear, a: ${a} }`), "steer.yaml"), { store, replay: got.report.run }));
    assert.deepEqual(replayed.points, got.report.points);
    assert.equal(replayed.model_calls, 0);
    assert.deepEqual(replayed.steer, { method: "linear", a });
    const again = await run(conformity(`steer: { method: linear, a: ${a} }`), "a08-again.duckdb");
    assert.deepEqual(again.rows.map((r) => r.prompt), got.rows.map((r) => r.prompt), "the same seed asks the same prompts");
    again.rows.forEach((r, k) => assert.deepEqual(r.labelMass, got.rows[k]!.labelMass, `again, call ${k}`));
  });

  // Greedy (temperature 0): a text changes under BATCH_PLACEMENT only where two tokens nearly tie.
  it("donor (completions, greedy): each text is the decoder's, the strategy line cut out for the plain prompt", async () => {
    const a = 0.5;
    const got = await run(donor(`steer: { method: linear, a: ${a} }`), "donor.duckdb");
    assert.ok(got.rows.length >= 2, `${got.rows.length} calls`);
    const decoder = await openLinearDecoder(llama);
    try {
      const seen = new Set<string>();
      for (const row of got.rows) {
        if (seen.has(row.key)) continue;
        seen.add(row.key);
        const strategy = DONOR_STRATEGIES.find((s) => row.prompt.includes(`\n${s}\n\n`));
        assert.ok(strategy !== undefined, row.prompt);
        const plain = row.prompt.replace(`\n${strategy}\n\n`, "\n\n");
        const p = row.params as { seed: number; temperature: number; max_tokens: number };
        const want = await decoder.complete({ prompt: row.prompt, refPrompt: plain, weight: linearWeight(a), n: 1, temperature: p.temperature, maxTokens: p.max_tokens, seed: p.seed });
        assert.deepEqual((row.raw as { texts: string[] }).texts, want.texts);
      }
    } finally {
      await decoder.close();
    }
  });

  it("refuses a model that is not on the in-process llama backend, naming the scenario", async () => {
    const yaml = conformity("steer: { method: linear, a: 0.5 }").replace(`spec: "llama:${MODEL}", threads: 1`, 'spec: "vllm:some-model", base_url: "http://127.0.0.1:9/v1"');
    await withStore(path.join(dir, "vllm.duckdb"), async (store) => {
      await assert.rejects(
        runScenario(parseScenario(yaml, "steer.yaml"), { store }),
        (e: unknown) => e instanceof CivitasError && /steer\.yaml: steer/u.test(e.message) && /in-process llama backend/u.test(e.message) && /vllm/u.test(e.message),
      );
      assert.deepEqual(await store.listRuns(), [], "nothing is stored");
    });
  });

  it("validates the steer section, naming the field", async () => {
    const bad = (steer: string, want: RegExp) =>
      assert.throws(
        () => parseScenario(conformity(steer), "steer.yaml"),
        (e: unknown) => e instanceof CivitasError && want.test(e.message),
        steer,
      );
    bad("steer: { method: realign, a: 0.5 }", /steer\.method.*linear/u);
    bad("steer: { method: linear, a: -1 }", /steer\.a.*>= 0/u);
    bad('steer: { method: linear, a: "x" }', /steer\.a/u);
    bad("steer: { method: linear, a: 0.5, b: 1 }", /steer.*b/u);
    assert.throws(
      () => parseScenario("name: x\ndynamics: hk\nparams: { agents: 10, epsilon: 0.2, steps: 3 }\nsteer: { method: linear, a: 0.5 }\n", "hk.yaml"),
      /steer: hk is rule-based/u,
    );
    assert.throws(() => parseScenario(conformity("steer: { method: linear, a: 0.5 }").replace(/^model:.*$/mu, ""), "steer.yaml"), /steer: steering needs a model/u);
    const s = parseScenario(conformity("steer: { method: linear, a: 0.5 }"), "steer.yaml");
    assert.deepEqual(s.steer, { method: "linear", a: 0.5 });
    assert.deepEqual((await loadScenario(path.join(REPO, "examples/opinion-steer.yaml"))).steer, { method: "linear", a: 0.5 });
  });
});
