/**
 * The registries of suites, methods, metrics, protocols and model backends: one shape, the errors
 * users get for unknown names, bad components and bad arguments, help texts built from what is
 * registered, the noise floor each metric declares, and what a run records of its components.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { z } from "zod";
import { evalCommand } from "../../src/cli/eval.js";
import { scoreCommand } from "../../src/cli/score.js";
import { CivitasError } from "../../src/errors.js";
import { distance, expectedSamplingDistance, expectedTotalVariation, findMetric, metrics, parseMetric, totalVariation, type Metric } from "../../src/metrics/index.js";
import { backends, jsSpec, llamaSpec, modelForms, parseModelSpec } from "../../src/models/index.js";
import { NO_ARGS, Registry, type Component } from "../../src/registry.js";
import { findProtocol, methodParams, methods, parseMethods, protocols, runComponents, resolveConventions } from "../../src/runs/index.js";
import { findSuite, loadOpinionQA, suites } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

/** Runs fn and returns the CivitasError it throws. */
function civitasError(fn: () => unknown): CivitasError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CivitasError, String(e));
    return e;
  }
  assert.fail("expected an error");
}

describe("one registry shape", () => {
  interface Widget extends Component {
    readonly size: number;
  }
  const widgets = () => new Registry<Widget>({ kind: "widget", check: (w) => (typeof w.size === "number" ? [] : ["size: expected a number"]) });
  const small: Widget = { name: "small", description: "a small widget", args: z.object({ scale: z.number().min(1).default(1) }), size: 1 };

  it("finds by name in any case, lists live, and names the registered ones when a name is unknown", () => {
    const r = widgets();
    const names = r.names;
    r.register(small);
    assert.equal(r.get(" SMALL "), small);
    assert.deepEqual(names, ["small"], "the list given out before the registration shows it");
    const e = civitasError(() => r.get("large"));
    assert.equal(e.kind, "usage");
    assert.equal(e.message, 'unknown widget "large"');
    assert.equal(e.hint, "choose among small");
  });

  it("refuses a component without a name, a description, an args schema with defaults, or what its kind needs", () => {
    const r = widgets();
    const bad = (w: unknown) => civitasError(() => r.register(w as Widget)).message;
    assert.match(bad({ ...small, name: "Big One" }), /cannot register the widget "Big One": name: expected lower case letters/);
    assert.match(bad({ ...small, description: "" }), /description: expected one line of text/);
    assert.match(bad({ ...small, args: { scale: 1 } }), /args: expected a zod schema/);
    assert.match(bad({ ...small, args: z.object({ scale: z.number() }) }), /args: every argument needs a default \(scale: /);
    assert.match(bad({ ...small, size: "1" }), /cannot register the widget "small": size: expected a number/);
    assert.deepEqual(r.names, [], "nothing bad was registered");
  });

  it("refuses a second component under a registered name; the same one again is no change", () => {
    const r = widgets();
    r.register(small);
    r.register(small);
    assert.deepEqual(r.names, ["small"]);
    assert.match(civitasError(() => r.register({ ...small })).message, /a widget named "small" is registered already/);
  });

  it("parses arguments into the spec a run records, defaults filled in, unknown keys dropped, bad ones named", () => {
    const r = widgets();
    r.register(small);
    assert.deepEqual(r.spec("small"), { name: "small", args: { scale: 1 } });
    assert.deepEqual(r.spec("Small", { scale: 3, other: true }), { name: "small", args: { scale: 3 } });
    const e = civitasError(() => r.spec("small", { scale: 0 }));
    assert.equal(e.kind, "usage");
    assert.match(e.message, /^bad arguments for the widget "small": scale: /);
  });
});

describe("the five registries hold the built-ins and give the errors users know", () => {
  it("lists them in their order", () => {
    assert.deepEqual(suites.names.slice(0, 12), ["opinionqa", "globalopinions", "distalign", "moca", "rnr", "subpop", "mort", "pacifaist", "papi", "multicultural", "hf", "custom"]);
    assert.deepEqual(methods.names.slice(0, 3), ["logprobs", "sample", "verbalize"]);
    assert.deepEqual(metrics.names.slice(0, 4), ["wasserstein", "tv", "jsd", "mean"]);
    assert.deepEqual(protocols.names.slice(0, 3), ["santurkar2023", "durmus2023", "meister2024"]);
    assert.deepEqual(backends.names.slice(0, 5), ["llama", "openai", "ollama", "vllm", "js"]);
    assert.deepEqual(modelForms().slice(0, 6), ["llama:<file.gguf>", "llama:hf:<org>/<repo>/<file.gguf>", "openai:<model>", "ollama:<model>", "vllm:<model>", "js:<file.mjs>[#<target>]"]);
  });

  it("unknown names: the same messages and hints as before the registries, built from their contents", async () => {
    const m = civitasError(() => parseMetric("kl"));
    assert.deepEqual([m.kind, m.message, m.hint], ["usage", 'unknown metric "kl"', `choose one of: ${metrics.names.join(", ")}`]);
    const me = civitasError(() => parseMethods(["logprobs", "greedy"]));
    assert.deepEqual([me.message, me.hint], ['unknown method "greedy"', `choose among ${methods.names.join(", ")} (several: --method logprobs,verbalize)`]);
    const p = civitasError(() => findProtocol("nosuch"));
    assert.deepEqual([p.message, p.hint], ['unknown protocol "nosuch"', `choose among ${protocols.names.join(", ")}`]);
    const s = civitasError(() => findSuite("nosuchsuite"));
    assert.deepEqual([s.message, s.hint], ['unknown suite "nosuchsuite"', `known suites: ${suites.names.join(", ")}`]);
    for (const bad of ["gpt4", "mistral:7b", "LLAMA:x.gguf", "llama:"]) {
      await assert.rejects(parseModelSpec(bad), (e: unknown) => {
        assert.ok(e instanceof CivitasError);
        assert.equal(e.message, `cannot read the model "${bad}"`);
        assert.equal(e.hint, `write one of: ${modelForms().join(", ")}`);
        return true;
      });
    }
  });

  it("the built-in methods keep their request parameters (part of every cache key)", () => {
    const s = { samples: 30, constrain: false, seed: 0 };
    assert.deepEqual(methodParams("logprobs", s), {});
    assert.deepEqual(methodParams("sample", s), { n: 30, temperature: 1, max_tokens: 8, seed: 0, constrain: false });
    assert.deepEqual(methodParams("sample", { ...s, constrain: true }), { n: 30, temperature: 1, max_tokens: 4, seed: 0, constrain: true });
    assert.deepEqual(methodParams("sample", s, "text"), { n: 30, temperature: 1, max_tokens: 48, seed: 0, constrain: false });
    assert.deepEqual(methodParams("verbalize", { ...s, seed: 7 }), { n: 1, temperature: 0, max_tokens: 400, seed: 7, constrain: false });
  });
});

describe("metrics declare their noise floor", () => {
  const p = [0.5, 0.3, 0.2];
  it("the built-ins: closed forms for tv and wasserstein, simulation for jsd and mean", () => {
    assert.notEqual(findMetric("tv").noise, "simulated");
    assert.notEqual(findMetric("wasserstein").noise, "simulated");
    assert.equal(findMetric("jsd").noise, "simulated");
    assert.equal(findMetric("mean").noise, "simulated");
    assert.equal(expectedSamplingDistance("tv", p, 9, null), expectedTotalVariation(p, 9));
  });

  it("a registered metric's declaration decides: its closed form, or the seeded simulation with its distance", () => {
    let calls = 0;
    const exact: Metric = {
      name: "test-exact-tv",
      description: "total variation with a counted closed form",
      args: NO_ARGS,
      label: "1 - total variation",
      source: "test",
      needsOrdinals: false,
      distance: (a, b) => totalVariation(a, b),
      noise: {
        exact: (q, n) => {
          calls++;
          return expectedTotalVariation(q, n);
        },
      },
    };
    metrics.register(exact);
    // p is normalised before the closed form sees it.
    assert.equal(expectedSamplingDistance("test-exact-tv", p.map((x) => x * 4), 9, null), expectedTotalVariation(p, 9));
    assert.equal(calls, 1);
    assert.equal(distance("test-exact-tv", [1, 0], [0, 1], null), 1);

    const simulated: Metric = { ...exact, name: "test-simulated-tv", noise: "simulated" };
    metrics.register(simulated);
    // The same draws as any simulated metric: with tv's distance, the estimate of E[TV] from
    // 4000 seeded samples of n = 9. Its standard error is at most 0.5 / sqrt(4000) < 0.008.
    const est = expectedSamplingDistance("test-simulated-tv", p, 9, null, { seed: 1, draws: 4000 });
    assert.ok(Math.abs(est - expectedTotalVariation(p, 9)) < 0.03, `${est} vs ${expectedTotalVariation(p, 9)}`);
    assert.equal(calls, 1, "the closed form of another metric is not used");
  });

  it("refuses a metric that does not say how its noise floor is computed, or what it needs", () => {
    const m = { name: "test-incomplete", description: "x", args: NO_ARGS, label: "1 - x", source: "", distance: () => 0 };
    const e = civitasError(() => metrics.register(m as unknown as Metric));
    assert.match(e.message, /needsOrdinals: expected true or false; noise: expected "simulated" or \{ exact: \(p, n, ordinals\) => number \}/);
  });

  it("a metric that needs ordinals is refused ordinal-free questions and refusals kept as options", async () => {
    assert.throws(() => distance("mean", [0.5, 0.5], [1, 0], null), /the mean metric needs ordinal positions/);
    const suite = await loadOpinionQA({ data: OPINIONQA });
    assert.throws(() => resolveConventions(suite, { protocol: "meister2024", metric: "mean" }), /the mean metric cannot keep refusals as options/);
  });
});

describe("a backend registered in code", () => {
  it("is found by its prefix, records its options, and its forms join the list", async () => {
    // docs/extending.md's snippet: a backend named by a prefix, here serving a js: provider's
    // client under a name of its own.
    const dir = tempDir();
    const file = path.join(dir, "p.mjs");
    writeFileSync(file, "export default (target) => ({ optionProbabilities: (q) => ({ labelMass: q.labels.map((_, i) => (i === 0 ? Number(target) : 0)), coverage: Number(target) }) });\n");
    backends.register({
      name: "first",
      description: "all the mass it is given on the first label",
      args: z.object({ concurrency: z.number().optional() }),
      forms: ["first:<share>"],
      spec: async (target, options) => ({ ...(await jsSpec(`${file}#${target}`, options)), display: `first:${target}` }),
    });
    const spec = await parseModelSpec("first:0.25", { concurrency: 3, apiKey: "sk-not-recorded" });
    assert.equal(spec.display, "first:0.25");
    assert.deepEqual(spec.component, { name: "first", args: { model: "0.25", concurrency: 3 } });
    assert.ok(modelForms().includes("first:<share>"));
    const client = await spec.open();
    assert.deepEqual(await client.optionProbabilities({ prompt: "x", labels: ["A", "B"] }), { labelMass: [0.25, 0], coverage: 0.25, top: [], promptTokens: null });
  });
});

describe("help texts list what is registered", () => {
  it("eval and score --help name every suite, method, metric, protocol and model form, registered ones included", () => {
    metrics.register({ ...findMetric("tv"), name: "test-help-metric", description: "listed in help" });
    protocols.register({ ...findProtocol("santurkar2023"), name: "test-help-protocol" });
    methods.register({ ...methods.get("logprobs"), name: "test-help-method" });
    const help = evalCommand().helpInformation().replace(/\s+/gu, " ");
    for (const name of [...suites.names, ...methods.names, ...metrics.names, ...protocols.names, ...modelForms()]) assert.ok(help.includes(name), name);
    assert.ok(help.includes("test-help-metric") && help.includes("test-help-protocol") && help.includes("test-help-method"));
    const score = scoreCommand().helpInformation().replace(/\s+/gu, " ");
    for (const name of [...suites.names, ...metrics.names, ...protocols.names]) assert.ok(score.includes(name), name);
  });
});

describe("what a run records of its components", () => {
  it("{name, args}: the suite, the model's backend and options (no secrets), each method with its settings, the metric, the protocol", async () => {
    const model = await parseModelSpec(`llama:${MODEL}`, { threads: 1, parallel: 1, onDownload: () => undefined });
    const suite = await loadOpinionQA({ data: OPINIONQA });
    const c = runComponents({
      suite: suite.name,
      model,
      methods: ["logprobs", "sample", "verbalize"],
      settings: { samples: 12, constrain: true, seed: 3 },
      conventions: resolveConventions(suite, { protocol: "santurkar2023" }),
    });
    assert.deepEqual(c, {
      suite: { name: "opinionqa", args: {} },
      model: { name: "llama", args: { model: MODEL, threads: 1, parallel: 1 } },
      methods: [
        { name: "logprobs", args: {} },
        { name: "sample", args: { samples: 12, constrain: true } },
        { name: "verbalize", args: { constrain: true } },
      ],
      metric: { name: "wasserstein", args: {} },
      protocol: { name: "santurkar2023", args: {} },
    });
    const server = await parseModelSpec("openai:some-model", { baseURL: "http://user:pw@127.0.0.1:9/v1", apiKey: "sk-secret-key", concurrency: 2 });
    assert.deepEqual(server.component, { name: "openai", args: { model: "some-model", concurrency: 2 } });
    assert.doesNotMatch(JSON.stringify(server.component), /secret|pw/u);
    // A spec made without parseModelSpec records its backend.
    const direct = runComponents({ suite: "opinionqa", model: await llamaSpec(MODEL), methods: ["logprobs"], settings: { samples: 30, constrain: false, seed: 0 }, conventions: resolveConventions(suite) });
    assert.deepEqual([direct.model, direct.protocol], [{ name: "llama", args: {} }, null]);
  });
});
