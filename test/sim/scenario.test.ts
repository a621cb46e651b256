/**
 * Scenario files: the shipped examples parse, every malformed field is an error naming the file and
 * the field path (unknown fields list the valid ones), required parameters per dynamics, and the
 * command-line overrides (--set, --seeds, --model, budgets).
 */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parseSetFlags } from "../../src/cli/set.js";
import { CivitasError } from "../../src/errors.js";
import { planScenario } from "../../src/sim/run.js";
import { applyOverrides, DYNAMICS, DYNAMICS_NAMES, loadScenario, paramSpecs, parseScenario } from "../../src/sim/scenario.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { REPO, tempDir } from "../helpers/paths.js";

const HK = "name: hk\ndynamics: hk\nparams: { agents: 100, steps: 50, epsilon: 0.2 }\n";

/** Parsing `text` fails with an input error whose message is exactly `lines` (each prefixed with the file). */
function fails(text: string, ...lines: (string | RegExp)[]): CivitasError {
  try {
    parseScenario(text, "s.yaml");
  } catch (e) {
    assert.ok(e instanceof CivitasError, String(e));
    assert.equal(e.kind, "input");
    const got = e.message.split("\n");
    assert.equal(got.length, lines.length, e.message);
    lines.forEach((l, i) => (typeof l === "string" ? assert.equal(got[i], `s.yaml: ${l}`) : assert.match(got[i]!, l)));
    return e;
  }
  assert.fail(`expected ${text} to be rejected`);
}

describe("scenario files", () => {
  it("every shipped example plans: its model, survey, questions, population and measure resolve", async () => {
    // Planning loads the survey and checks every question id, attribute and population a scenario
    // names (a typo in an example is an error here, not in a user's first run); nothing runs.
    const dir = path.join(REPO, "examples");
    const files = readdirSync(dir).filter((f) => /\.ya?ml$/u.test(f));
    assert.ok(files.length >= 14, files.join(", "));
    const cwd = process.cwd();
    process.chdir(REPO); // model paths in the examples are relative to the repository, as the docs run them
    try {
      for (const f of files) {
        const plan = await planScenario(await loadScenario(path.join(dir, f)), {}).catch((e: unknown) => {
          throw new Error(`examples/${f}: ${String(e)}`);
        });
        assert.match(plan.runId, /^[0-9a-f]{12}$/u, f);
      }
    } finally {
      process.chdir(cwd);
    }
  });

  it("reads the four examples", async () => {
    const hk = await loadScenario(path.join(REPO, "examples/hk.yaml"));
    assert.equal(hk.name, "hk-consensus");
    assert.equal(hk.dynamics, "hk");
    assert.deepEqual(hk.params, { agents: 1000, graph: "complete", steps: 1000 });
    assert.deepEqual(hk.sweep, [["epsilon", [0.15, 0.19, 0.22, 0.25, 0.3]]]);
    assert.deepEqual(hk.seeds, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const voter = await loadScenario(path.join(REPO, "examples/voter.yaml"));
    assert.deepEqual(voter.sweep, [["agents", [100, 200, 400, 800]]]);
    assert.equal(voter.seeds.length, 20);
    const degroot = await loadScenario(path.join(REPO, "examples/degroot.yaml"));
    assert.equal(degroot.sweep[0]![0], "graph");
    assert.equal(degroot.params.threshold, 1e-9);
    const deffuant = await loadScenario(path.join(REPO, "examples/deffuant.yaml"));
    assert.equal(deffuant.params.mu, 0.5);
  });

  it("reads JSON, defaults the graph to complete and the seeds to 0, and resolves edge-list paths against the file", () => {
    const s = parseScenario('{"name": "j", "dynamics": "voter", "params": {"agents": 10, "steps": 100}}', "dir/s.json");
    assert.equal(s.params.graph, "complete");
    assert.deepEqual(s.seeds, [0]);
    const f = parseScenario("name: f\ndynamics: degroot\nparams: { graph: 'file:edges.txt', steps: 10 }\n", path.join("some", "dir", "s.yaml"));
    assert.equal(f.params.graph, `file:${path.resolve("some/dir/edges.txt")}`);
    assert.equal(f.params.agents, undefined); // an edge list gives N
  });

  it("names the field of every malformed value", () => {
    fails("name: x\ndynamics: hk\nparams: { agents: 100, steps: 50, epsilon: high }\n", 'params.epsilon: expected a number >= 0, got "high"');
    fails("name: x\ndynamics: hk\nparams: { agents: 10.5, steps: 50, epsilon: 0.2 }\n", "params.agents: expected an integer >= 1, got 10.5");
    fails("name: x\ndynamics: deffuant\nparams: { agents: 10, steps: 5, epsilon: 0.2, mu: 0.7 }\n", "params.mu: expected a number > 0 and <= 0.5, got 0.7");
    fails("name: x\ndynamics: voter\nparams: { agents: 10, steps: 5, x0: 2 }\n", "params.x0: expected a number >= 0 and <= 1, got 2");
    fails(`${HK}sweep: { epsilon: [0.1, nope, 0.3] }\n`, 'sweep.epsilon[1]: expected a number >= 0, got "nope"');
    fails(`${HK}sweep: { epsilon: [] }\n`, "sweep.epsilon: expected at least one value, got []");
    fails(`${HK}sweep: { epsilon: 0.1 }\n`, "sweep.epsilon: expected a list of values, got 0.1");
    fails(`${HK}sweep: { epsilon: [0.1, 0.1] }\n`, "sweep.epsilon: a value is listed twice");
    fails(`${HK}seeds: 5..2\n`, 'seeds: range "5..2" is empty (2 < 5)');
    fails(`${HK}seeds: [1, x]\n`, 's.yaml: seeds: expected a range "1..20", a list [1, 2, 3] or one seed, got [1,"x"]'.slice("s.yaml: ".length));
    fails(`${HK}every: 0\n`, "every: expected an integer >= 1, got 0");
    fails("name: x\ndynamics: hk\nparams: { agents: 100, steps: 50, epsilon: 0.2, graph: star }\n", /^s\.yaml: params\.graph: unknown graph "star" \(one of complete, er:k=10/u);
    fails("name: x\ndynamics: hk\nparams: { agents: [1, 2], steps: 50, epsilon: 0.2 }\n", "params.agents: expected a number, a string or true/false, got [1,2]");
  });

  it("rejects unknown fields and parameters, listing the valid ones", () => {
    fails(`${HK}sweeps: { epsilon: [0.1] }\n`, "sweeps: unknown field (valid: name, description, dynamics, params, sweep, seeds, every, model, survey, budget, steer, population, measure)");
    fails("name: x\ndynamics: hk\nparams: { agents: 100, steps: 50, epsilon: 0.2, mu: 0.3 }\n", "params.mu: unknown parameter of hk (valid: agents, graph, steps, graph_seed, epsilon, tolerance, threshold)");
    fails(`${HK}sweep: { eps: [0.1] }\n`, "sweep.eps: unknown parameter of hk (valid: agents, graph, steps, graph_seed, epsilon, tolerance, threshold)");
    fails("name: x\ndynamics: hkk\n", "dynamics: expected one of degroot, hk, deffuant, voter, opinion, conformity, donor, cooperation, pressure, debate, feed, got \"hkk\"");
    fails(`name: x\ndynamics: opinion\nparams: { agents: 4, steps: 2 }\nmodel: { spec: "llama:m.gguf", thread: 1 }\n`, /^s\.yaml: model\.thread: unknown field \(valid: spec, threads, parallel, context_size, gpu, base_url, concurrency, timeout, retries\)$/u);
    fails(
      "name: x\ndynamics: opinion\nparams: { agents: 4, steps: 2, question: Q1, init: survey }\n",
      "params.question: unknown parameter of opinion (valid: agents, graph, steps, graph_seed, llm_share, init); the survey's question goes in survey.question",
      'params.init: expected one of human, model, got "survey"',
    );
    fails(`name: x\ndynamics: opinion\nparams: { agents: 4, steps: 2 }\nbudget: { calls: 5 }\n`, "budget.calls: unknown field (valid: max_calls, max_tokens)");
    fails(`name: x\ndynamics: opinion\nparams: { agents: 4, steps: 2 }\nsurvey: { suite: pew }\n`, /^s\.yaml: survey\.suite: expected one of opinionqa, .*, got "pew"$/u);
  });

  it("requires each dynamics' parameters, set or swept, and agents unless the graph is a file", () => {
    fails("name: x\ndynamics: hk\nparams: { agents: 100, steps: 50 }\n", /^s\.yaml: params\.epsilon: required for hk \(confidence bound.*\); set it in params or sweep it$/u);
    parseScenario("name: x\ndynamics: hk\nparams: { agents: 100, steps: 50 }\nsweep: { epsilon: [0.1, 0.2] }\n", "s.yaml");
    fails("name: x\ndynamics: voter\nparams: { agents: 100 }\n", /^s\.yaml: params\.steps: required for voter \(step limit/u);
    fails("name: x\ndynamics: voter\nparams: { steps: 100 }\n", "params.agents: required (N, the number of agents), unless the graph is file:<edge list>");
    fails("dynamics: voter\nparams: { steps: 100, agents: 5 }\n", "name: required");
    fails("name: x\n", "dynamics: required");
    // several problems: one line each
    fails("name: x\ndynamics: deffuant\nparams: { agents: 0, mu: 0 }\n", "params.agents: expected an integer >= 1, got 0", "params.mu: expected a number > 0 and <= 0.5, got 0");
  });

  it("keeps models, surveys and budgets to model-driven dynamics, and keys out of scenario files", () => {
    fails(`${HK}model: { spec: "llama:m.gguf" }\n`, "model: hk is rule-based and asks no model (the model-driven dynamics are opinion, conformity, donor, cooperation, pressure, debate, feed)");
    fails(`${HK}budget: { max_calls: 10 }\n`, "budget: hk is rule-based and asks no model (the model-driven dynamics are opinion, conformity, donor, cooperation, pressure, debate, feed)");
    fails(`name: x\ndynamics: opinion\nparams: { agents: 4, steps: 2 }\nmodel: { spec: "openai:gpt-4o-mini", api_key: sk-123 }\n`, /^s\.yaml: model\.api_key: keys do not belong in a scenario file/u);
    const s = parseScenario(
      `name: x\ndynamics: opinion\nparams: { agents: 4, steps: 2, llm_share: 0.5, init: model }\nmodel: { spec: "llama:m.gguf", threads: 1 }\nsurvey: { suite: opinionqa, data: ../opinionqa, attribute: POLPARTY, populations: "POLPARTY=Democrat, POLPARTY=Republican" }\nbudget: { max_calls: 100 }\n`,
      path.join("a", "b.yaml"),
    );
    assert.deepEqual(s.params, { agents: 4, steps: 2, llm_share: 0.5, init: "model", graph: "complete" });
    assert.deepEqual(s.model, { spec: "llama:m.gguf", threads: 1 });
    assert.deepEqual(s.survey, { suite: "opinionqa", data: path.resolve("opinionqa"), attribute: "POLPARTY", populations: ["POLPARTY=Democrat", "POLPARTY=Republican"] });
    assert.deepEqual(s.budget, { max_calls: 100 });
  });

  it("says where a YAML file is malformed, and which file is missing", async () => {
    fails("name: x\nparams: { agents: 1\ndynamics: hk\n", /^s\.yaml: line \d+, column \d+: /u);
    fails("name: x\nname: y\ndynamics: hk\n", "line 2, column 1: Map keys must be unique");
    fails("- a\n- b\n", /^s\.yaml: expected a mapping with name, dynamics, params/u);
    fails("", "expected a mapping with name, dynamics, params, sweep, seeds, every, model, survey, budget, steer, population, measure; got an empty file");
    // A path that does not exist is a usage error (exit 2), as in every command.
    const e = await rejectsCivitas(loadScenario("/nonexistent/s.yaml"), "usage");
    assert.equal(e.message, "no scenario file /nonexistent/s.yaml");
  });

  it("documents every parameter and reaches every dynamics' factory by name", () => {
    for (const name of DYNAMICS_NAMES) {
      for (const [p, spec] of Object.entries(paramSpecs(name))) assert.ok(spec.doc.length > 10, `${name}.${p}`);
      assert.equal(DYNAMICS[name].name, name);
    }
  });
});

describe("command-line overrides", () => {
  const hk = () => parseScenario(`${HK}sweep: { epsilon: [0.1, 0.2], agents: [50, 100] }\nseeds: 1..3\n`, "s.yaml");
  /** `--set` flags as the command line parses them (src/cli/set.ts), paths from the working folder. */
  const set = (...items: string[]) => ({ params: parseSetFlags(items), base: process.cwd() });

  it("--set fixes a parameter (dropping its sweep), a list sweeps it, --seeds replaces the seeds", () => {
    const a = applyOverrides(hk(), { set: set("epsilon=0.25", "graph=ws:k=4,beta=0.1"), seeds: "5..6" });
    assert.deepEqual(a.sweep, [["agents", [50, 100]]]);
    assert.equal(a.params.epsilon, 0.25);
    assert.equal(a.params.graph, "ws:k=4,beta=0.1");
    assert.deepEqual(a.seeds, [5, 6]);
    assert.equal(a.origin.epsilon, "--set epsilon");
    const b = applyOverrides(hk(), { set: set("agents=[10, 20, 30]", "tolerance=[0.01,0.1]") });
    assert.deepEqual(b.sweep, [
      ["epsilon", [0.1, 0.2]],
      ["agents", [10, 20, 30]],
      ["tolerance", [0.01, 0.1]],
    ]);
    assert.deepEqual(applyOverrides(hk(), {}), hk());
  });

  it("names the flag in its errors (usage errors)", () => {
    const usage = (o: () => Parameters<typeof applyOverrides>[1], message: string | RegExp) =>
      assert.throws(() => applyOverrides(hk(), o()), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && (typeof message === "string" ? e.message === message : message.test(e.message)));
    usage(() => ({ set: set("mu=0.3") }), "--set mu: unknown parameter of hk (valid: agents, graph, steps, graph_seed, epsilon, tolerance, threshold)");
    usage(() => ({ set: set("epsilon=abc") }), '--set epsilon: expected a number >= 0, got "abc"');
    usage(() => ({ set: set("agents=[10, x]") }), '--set agents[1]: expected an integer >= 1, got "x"');
    usage(() => ({ set: set("epsilon") }), '--set "epsilon": expected NAME=VALUE');
    usage(() => ({ set: set("agents=[]") }), "--set agents: an empty list sweeps nothing");
    usage(() => ({ seeds: "3..x" }), /^--seeds: seed "x" is not an integer/u);
    usage(() => ({ model: "llama:m.gguf" }), /^--model: hk is rule-based and asks no model/u);
    usage(() => ({ maxCalls: 10 }), /^--max-calls: hk is rule-based/u);
  });

  it("resolves a path set on the command line against the folder the caller names, not the process's", () => {
    const base = path.join(tempDir(), "work");
    const d = parseScenario("name: d\ndynamics: degroot\nparams: { agents: 4, steps: 10 }\n", "s.yaml");
    const o = applyOverrides(d, { set: { params: parseSetFlags(["graph=file:edges.txt"]), base } });
    assert.equal(o.params.graph, `file:${path.join(base, "edges.txt")}`);
    assert.notEqual(base, process.cwd());
  });

  it("--model replaces the model's spec and keeps its options; budgets merge with the file's", () => {
    const s = parseScenario(`name: x\ndynamics: donor\nparams: { agents: 4, steps: 2 }\nmodel: { spec: "llama:a.gguf", threads: 2 }\nbudget: { max_tokens: 1000 }\n`, "s.yaml");
    const o = applyOverrides(s, { model: "openai:gpt-4o-mini", maxCalls: 50 });
    assert.deepEqual(o.model, { spec: "openai:gpt-4o-mini", threads: 2 });
    assert.deepEqual(o.budget, { max_tokens: 1000, max_calls: 50 });
    const noModel = parseScenario("name: x\ndynamics: donor\nparams: { agents: 4, steps: 2 }\n", "s.yaml");
    assert.deepEqual(applyOverrides(noModel, { model: "llama:b.gguf" }).model, { spec: "llama:b.gguf" });
  });

  it("reads a scenario written to disk", async () => {
    const dir = tempDir();
    const file = path.join(dir, "x.yml");
    writeFileSync(file, `${HK}seeds: [3, 1]\n`);
    const s = await loadScenario(file);
    assert.deepEqual(s.seeds, [3, 1]);
    assert.equal(s.source, file);
  });
});
