/**
 * What a user meets before any work starts: help text, hints, exit codes, `suites show`.
 *
 * The exit-code rule (src/cli/common.ts reportError): 2 when the command line is wrong (an unknown
 * option or name, a bad value, a path that does not exist), 1 when it is fine but the work failed
 * (a malformed file, a model, the store).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { VARIANT_SETS } from "../../src/surveys/prompt.js";
import { runCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, REPO, SHARED, tempDir } from "../helpers/paths.js";

const COMMANDS = ["eval", "score", "suites", "aggregate", "simulate", "steer", "runs", "export", "cache", "report", "view", "init", "worker"];

describe("help", () => {
  it("shows what an empty list option means, never (default: [])", async () => {
    for (const c of COMMANDS) {
      const r = await runCli([c, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout.replace(/\s+/gu, " "), /\(default: \[\]\)/u, c);
    }
    const e = (await runCli(["eval", "--help"])).stdout.replace(/\s+/gu, " ");
    assert.match(e, /--method <list> how answers are elicited, comma separated; the first is the headline: logprobs, sample, verbalize, sequence \(default: logprobs\)/u);
    assert.match(e, /--persona-template <attr=text> .* \(repeatable\) \(default: the suite's, else generic ones\)/u);
  });

  it("every command that loads a model takes the same model flags (src/cli/model-flags.ts)", async () => {
    const flags = ["--threads", "--parallel", "--context-size", "--no-gpu", "--chat-template", "--base-url", "--api-key", "--concurrency", "--timeout", "--retries", "--api", "--model-id", "--reasoning"];
    for (const c of ["eval", "steer", "worker"]) {
      const help = (await runCli([c, "--help"])).stdout;
      for (const f of flags) assert.match(help, new RegExp(`^\\s+${f}\\b`, "mu"), `${c} --help lists ${f}`);
    }
  });
});

describe("--variants", () => {
  it("an unknown preset is a usage error whose hint lists every preset", async () => {
    const dir = tempDir();
    const r = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--variants", "rnr9", "--store", path.join(dir, "s.duckdb")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: bad variant "rnr9": "rnr9" is neither a preset \(standard, rnr8, robust\) nor key=value\n/u);
    assert.ok(VARIANT_SETS.length >= 3);
    const hint = r.stderr.split("\n").slice(1).join("\n");
    for (const preset of VARIANT_SETS) assert.ok(hint.includes(preset), `the hint names ${preset}: ${hint}`);
  });
});

describe("exit codes", () => {
  const dir = tempDir();
  const none = (name: string) => path.join(dir, "nowhere", name);

  it("a path that does not exist exits 2 in every command", async () => {
    const cases: [string, string[]][] = [
      ["eval --data", ["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", none("opinionqa")]],
      ["eval --model", ["eval", "opinionqa", "--model", `llama:${none("m.gguf")}`, "--data", OPINIONQA]],
      ["score --predictions", ["score", "opinionqa", "--data", OPINIONQA, "--predictions", none("p.jsonl")]],
      ["aggregate (PrefLib)", ["aggregate", none("x.soc")]],
      ["aggregate (ratings)", ["aggregate", none("r.csv")]],
      ["aggregate (comparisons)", ["aggregate", none("c.jsonl")]],
      ["simulate", ["simulate", none("s.yaml")]],
      ["suites show --data", ["suites", "show", "globalopinions", "--data", none("gv")]],
    ];
    for (const [what, args] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /u, what);
    }
  });

  it("a file that exists but is malformed exits 1; an unknown name exits 2", async () => {
    const bad = path.join(dir, "bad.soc");
    writeFileSync(bad, "# NUMBER ALTERNATIVES: 3\n# NUMBER VOTERS: 2\n2: 1,2,7\n");
    assert.equal((await runCli(["aggregate", bad])).code, 1);
    const yaml = path.join(dir, "bad.yaml");
    writeFileSync(yaml, "name: bad\ndynamics: hk\nparams: { agents: 10, steps: 5, epsilon: high }\n");
    assert.equal((await runCli(["simulate", yaml, "--store", path.join(dir, "s.duckdb")])).code, 1);
    assert.equal((await runCli(["aggregate", path.join(SHARED, "data/preflib/condorcet-paradox-3.soc"), "--rules", "approval"])).code, 2);
    assert.equal((await runCli(["simulate", path.join(REPO, "examples/hk.yaml"), "--set", "nosuch=1"])).code, 2);
  });
});

describe("civitas suites show", () => {
  it("cuts long option lists with an ellipsis that says how many are hidden and which are refusals", async () => {
    for (const [suite, data] of [
      ["opinionqa", OPINIONQA],
      ["globalopinions", path.join(SHARED, "data/distalign/globalvalues")],
    ]) {
      const json = await runCli(["suites", "show", suite!, "--data", data!, "--json"]);
      assert.equal(json.code, 0, json.stderr);
      const questions = (JSON.parse(json.stdout) as { questions: { id: string; options: string[]; refusal: string[] }[] }).questions;
      const text = await runCli(["suites", "show", suite!, "--data", data!]);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.split("\n");
      const rows = new Map(lines.map((l) => [l.split(/\s+/u)[0]!, l]));
      const header = lines.find((l) => l.startsWith("id ") && l.includes("options (ordinals)"))!;
      const from = header.indexOf("options (ordinals)");
      const to = header.lastIndexOf("text");
      let cut = 0;
      for (const q of questions) {
        const row = rows.get(q.id);
        assert.ok(row, q.id);
        // The row: id, options (ordinals), text, at the columns of the header.
        const cell = row.slice(from, to).trimEnd().replace(/ \([0-9.,-]+\)$/u, "");
        const parts = cell.split(" | ");
        const more = /^\.\.\. \+(\d+) more(?:, incl\. (\d+) \[refusal\])?$/u.exec(parts[parts.length - 1]!);
        const shown = more ? parts.slice(0, -1) : parts;
        if (more) cut++;
        // Every option is shown or counted, and every refusal marked or counted.
        assert.equal(shown.length + (more ? Number(more[1]) : 0), q.options.length, `${suite} ${q.id}: ${row}`);
        const marked = shown.filter((x) => x.endsWith(" [refusal]")).length;
        assert.equal(marked + (more?.[2] ? Number(more[2]) : 0), q.refusal.length, `${suite} ${q.id}: refusals in ${row}`);
        if (more) assert.ok(cell.length <= 100, `${suite} ${q.id}: cut to about 60 characters: ${cell}`);
      }
      assert.ok(cut > 0, `${suite}: some option lists are long enough to be cut`);
    }
  });
});
