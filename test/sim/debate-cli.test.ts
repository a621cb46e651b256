/**
 * `civitas simulate examples/debate.yaml` with the real tiny model (stories260K, one thread, 4
 * agents, 2 rounds): the machinery only, never a finding (the model knows nothing). The same seed
 * in a fresh store (the model asked again) gives the same numbers; `--replay` of the record gives
 * them with no model (a model path that does not exist); every recorded prompt's memory stays
 * within its budget; the prompt tokens per agent-step are those of the recorded prompts, counted
 * independently; a budget stops the run cleanly at the last complete round.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";
import { REPO, tempDir } from "../helpers/paths.js";

const EXAMPLE = path.join(REPO, "examples/debate.yaml");
/** 4 agents (2 Republicans, 2 Democrats) instead of the example's 6: the file stays well under 30 s on a busy machine. */
const SMALL = ["--set", "agents=4"];
const dir = tempDir("civitas-debate-");

interface Result {
  run: string;
  stop: string;
  model_calls: number;
  cache_hits: number;
  agent_steps?: number;
  prompt_tokens_per_agent_step?: number;
  simulations: { stopped: { point: number; seed: number; steps: number }[] };
  points: { metrics: Record<string, { per_seed: (number | null)[] }> }[];
}

async function simulate(args: string[]): Promise<Result> {
  const r = await runCli(["simulate", EXAMPLE, ...SMALL, ...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Result;
}

const perSeed = (r: Result) => Object.fromEntries(Object.entries(r.points[0]!.metrics).map(([k, v]) => [k, v.per_seed]));

let first: Result;
const storeA = path.join(dir, "a.duckdb");

before(async () => {
  first = await simulate(["--store", storeA]);
});

describe("debate with the tiny model", () => {
  it("runs every round, and the same seed in a fresh store gives the same numbers", async () => {
    assert.equal(first.stop, "done");
    const m = perSeed(first);
    assert.equal(m.steps![0], 2);
    for (const k of ["position", "change", "shift_0", "shift_1", "tv_start_0", "tv_0", "tv_1", "in_range", "adherence", "memory_tokens"]) {
      assert.equal(typeof m[k]![0], "number", k);
    }
    assert.ok(m.memory_tokens![0]! > 0 && m.memory_tokens![0]! <= 120, `memory_tokens ${m.memory_tokens![0]}`);
    // 4 agents ask at step 0 and in each of 2 rounds
    assert.equal(first.agent_steps, 12);
    const second = await simulate(["--store", path.join(dir, "b.duckdb")]);
    assert.ok(second.model_calls > 0, "the model was asked again");
    assert.deepEqual(perSeed(second), m);
    assert.equal(second.prompt_tokens_per_agent_step, first.prompt_tokens_per_agent_step);
  });

  it("replays the record with no model and gives the same metrics", async () => {
    const replay = await simulate(["--store", storeA, "--replay", first.run, "--model", "llama:/nonexistent/model.gguf"]);
    assert.equal(replay.model_calls, 0);
    assert.deepEqual(perSeed(replay), perSeed(first));
    assert.equal(replay.prompt_tokens_per_agent_step, first.prompt_tokens_per_agent_step);
  });

  it("keeps each prompt's memory within its budget, and reports the recorded prompts' tokens per agent-step", async () => {
    const out = path.join(dir, "calls.jsonl");
    const e = await runCli(["export", first.run, "--calls", "--format", "jsonl", "-o", out, "--store", storeA]);
    assert.equal(e.code, 0, e.stderr);
    const calls = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; agent: number; method: string; prompt: string });
    // per agent: 1 answer at step 0, then a message and an answer in each round
    assert.equal(calls.length, 4 * 5);
    let withMemory = 0;
    for (const c of calls) {
      const at = c.prompt.indexOf("What was said so far (oldest first):");
      if (at < 0) continue;
      withMemory++;
      const end = c.prompt.indexOf("\n\n", at);
      assert.ok(end - at <= 120 * 4, `step ${c.step}, agent ${c.agent}: a memory of ${end - at} characters`);
    }
    // every answer after a round, and every message of the second round, reads a memory
    assert.equal(withMemory, 4 * 3);
    assert.ok(calls.filter((c) => c.step === 0).every((c) => !c.prompt.includes("What was said")));
    // ceil(characters / 4) summed over the calls, over the distinct (step, agent) pairs
    const tokens = calls.reduce((a, c) => a + Math.ceil(c.prompt.length / 4), 0);
    const pairs = new Set(calls.map((c) => `${c.step}:${c.agent}`)).size;
    assert.equal(pairs, 12);
    assert.equal(first.prompt_tokens_per_agent_step, tokens / pairs);
  });

  it("stops cleanly when the budget runs out, keeping the last complete round", async () => {
    // 2 model calls at step 0 (the two groups' persona prompts; the other agents share them), then
    // 4 messages in round 1: the 5th model call is refused, round 1 fails as a whole
    const r = await runCli(["simulate", EXAMPLE, ...SMALL, "--store", path.join(dir, "c.duckdb"), "--max-calls", "4", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as Result;
    assert.equal(res.stop, "budget");
    assert.deepEqual(res.simulations.stopped, [{ point: 0, seed: 1, steps: 0 }]);
    assert.equal(res.model_calls, 4);
  });
});
