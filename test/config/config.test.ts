/**
 * civitas.yaml: the schema (zod), errors that name the file, line and field, API keys only from
 * environment variables, paths relative to the file, and the example `civitas init` writes.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { EXAMPLE_CONFIG, loadConfig, parseConfig } from "../../src/config/index.js";
import { isCivitasError } from "../../src/errors.js";
import { tempDir } from "../helpers/paths.js";

/** The error parseConfig throws for a text (it must throw). */
function errorOf(text: string): { message: string; hint: string | undefined; kind: string } {
  try {
    parseConfig(text, "civitas.yaml");
  } catch (e) {
    assert.ok(isCivitasError(e), String(e));
    return { message: e.message, hint: e.hint, kind: e.kind };
  }
  assert.fail("expected an error");
}

const GOOD = `models:
  - model: llama:model.gguf
    threads: 1
  - model: openai:gpt-4o-mini
    base-url: https://api.example.com/v1
    api-key-env: MY_KEY
    price: {input: 0.15, output: 0.6}
suites:
  - opinionqa
  - name: globalopinions
    data: data/go
    populations: [country=Japan]
populations: POLPARTY
methods: [logprobs, verbalize]
seeds: [0, 1]
`;

describe("civitas.yaml", () => {
  it("reads models with their own keys, suites as names or mappings, one value or a list", () => {
    const c = parseConfig(GOOD, "civitas.yaml");
    assert.equal(c.models.length, 2);
    const m = c.models[1]!;
    assert.ok(typeof m !== "string");
    assert.equal(m["base-url"], "https://api.example.com/v1");
    assert.equal(m["api-key-env"], "MY_KEY");
    assert.deepEqual(m.price, { input: 0.15, output: 0.6 });
    assert.deepEqual(c.suites, ["opinionqa", { name: "globalopinions", data: "data/go", populations: ["country=Japan"] }]);
    assert.equal(c.populations, "POLPARTY");
    assert.deepEqual(c.seeds, [0, 1]);
  });

  it("the example civitas init writes is valid", () => {
    const c = parseConfig(EXAMPLE_CONFIG, "civitas.yaml");
    assert.ok(c.models.length >= 2);
    assert.ok(c.suites.length >= 2);
  });

  it("an unknown key names its line and field", () => {
    // line 3: the misspelt key of the first model
    const e = errorOf("models:\n  - model: llama:m.gguf\n    thread: 2\nsuites: [opinionqa]\n");
    assert.equal(e.kind, "input");
    assert.match(e.message, /^civitas\.yaml: line 3, models\[0\]\.thread: unknown field$/mu);
    assert.match(e.hint ?? "", /civitas init/u);
    const top = errorOf("models: [llama:m.gguf]\nsuites: [opinionqa]\nlimits: 5\n");
    assert.match(top.message, /^civitas\.yaml: line 3, limits: unknown field$/mu);
  });

  it("a value of the wrong type names its line; a missing key is 'required'", () => {
    const e = errorOf("models:\n  - model: llama:m.gguf\nsuites:\n  - name: opinionqa\n    limit: many\n");
    assert.match(e.message, /^civitas\.yaml: line 5, suites\[0\]\.limit: /mu);
    const missing = errorOf("models: [llama:m.gguf]\n");
    assert.match(missing.message, /suites: required/u);
    const negative = errorOf("models: [llama:m.gguf]\nsuites: [opinionqa]\n\nseeds: [0, -1]\n");
    assert.match(negative.message, /^civitas\.yaml: line 4, seeds\[1\]: /mu);
  });

  it("YAML syntax errors name their line", () => {
    const e = errorOf("models:\n  - model: llama:m.gguf\nsuites: [opinionqa\n");
    assert.match(e.message, /^civitas\.yaml: line \d+, column \d+: /u);
  });

  it("refuses an API key in the file, without repeating it", () => {
    const key = "sk-proj-abcdefghijklmnop1234";
    const literal = errorOf(`models:\n  - model: openai:gpt-4o\n    api-key: ${key}\nsuites: [opinionqa]\n`);
    assert.match(literal.message, /line 3, models\[0\]\.api-key: an API key never goes in the file: name the environment variable/u);
    assert.ok(!literal.message.includes(key));
    // The key where its variable's name belongs.
    const inEnv = errorOf(`models:\n  - model: openai:gpt-4o\n    api-key-env: ${key}\nsuites: [opinionqa]\n`);
    assert.match(inEnv.message, /line 3, models\[0\]\.api-key-env: this looks like an API key/u);
    assert.ok(!inEnv.message.includes(key));
    // Anywhere else, and in a URL's credentials.
    const elsewhere = errorOf(`models:\n  - model: openai:gpt-4o\n    system: "hf_abcdefghijklmnopqrstu"\nsuites: [opinionqa]\n`);
    assert.match(elsewhere.message, /line 3, models\[0\]\.system: this looks like an API key/u);
    const url = errorOf(`models:\n  - model: openai:gpt-4o\n    base-url: https://user:secret@api.example.com/v1\nsuites: [opinionqa]\n`);
    assert.match(url.message, /line 3, models\[0\]\.base-url: the URL carries credentials/u);
  });

  it("paths are relative to the file", async () => {
    const dir = tempDir();
    const file = path.join(dir, "civitas.yaml");
    writeFileSync(file, "models: [llama:models/m.gguf, openai:gpt-4o, 'llama:hf:org/repo/m.gguf']\nsuites:\n  - name: opinionqa\n    data: ./data/oqa\nstore: runs.duckdb\nprotocol: protocols/mine.yaml\n");
    const c = await loadConfig(file);
    assert.deepEqual(c.models, [`llama:${path.join(dir, "models/m.gguf")}`, "openai:gpt-4o", "llama:hf:org/repo/m.gguf"]);
    assert.deepEqual(c.suites, [{ name: "opinionqa", data: path.join(dir, "data/oqa") }]);
    assert.equal(c.store, path.join(dir, "runs.duckdb"));
    assert.equal(c.protocol, path.join(dir, "protocols/mine.yaml"));
    // A built-in protocol's name is a name, not a path.
    writeFileSync(file, "models: [openai:gpt-4o]\nsuites: [opinionqa]\nprotocol: santurkar2023\n");
    assert.equal((await loadConfig(file)).protocol, "santurkar2023");
  });
});
