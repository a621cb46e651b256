/**
 * Protocols as data: the built-ins pass the same checks as a file; a protocol file (`--protocol
 * ./my-protocol.yaml`) is validated with every problem named by file, line and field, registered
 * under its name, and scores as a built-in with the same conventions does.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { stringify } from "yaml";
import { CivitasError } from "../../src/errors.js";
import { findProtocol, isProtocolFile, loadProtocolFile, parseProtocol, protocols, resolveConventions, resolveProtocol } from "../../src/runs/index.js";
import { loadDistAlign, loadOpinionQA, type Suite } from "../../src/surveys/index.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { runCli } from "../helpers/cli.js";
import { OPINIONQA, REPO, SHARED, tempDir } from "../helpers/paths.js";

const EXAMPLE = path.join(REPO, "examples/extending/protocol.yaml");

/** The message of the CivitasError fn throws (kind "input": the file is malformed). */
function fileProblems(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CivitasError, String(e));
    assert.equal(e.kind, "input");
    return e.message;
  }
  assert.fail("expected an error");
}

const fileText = (o: unknown) => stringify(o);

describe("protocol files", () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });

  it("the built-ins are data that pass the checks a file passes", () => {
    for (const p of ["santurkar2023", "durmus2023", "meister2024"]) {
      const b = findProtocol(p);
      const c = b.conventions;
      const copy = parseProtocol(
        fileText({ name: `${b.name}-copy`, title: b.title, source: b.source, conventions: {
            metric: c.metric,
            refusals: c.refusals,
            datasets: c.datasets,
            resamples: c.resamples,
            option_order: c.optionOrder,
            ...(c.labelReading?.kind === "top-k" ? { label_reading: "top-k", top_k: c.labelReading.k } : {}),
            ...(c.average ? { average: c.average } : {}),
          },
        }),
        "copy.yaml",
      );
      assert.deepEqual(copy.conventions, b.conventions, p);
    }
  });

  it("what a file leaves out is what civitas does without a protocol; JSON is read too", () => {
    const p = parseProtocol("name: just-jsd\ntitle: JSD, otherwise the defaults\nconventions:\n  metric: JSD\n", "p.yaml");
    assert.deepEqual(p.conventions, { metric: "jsd", refusals: "drop", datasets: "pooled", resamples: 1000, optionOrder: "survey" });
    assert.equal(p.source, "");
    const j = parseProtocol(JSON.stringify({ name: "j", title: "t", conventions: { metric: "tv", refusals: "keep" } }), "p.json");
    assert.deepEqual(j.conventions, { metric: "tv", refusals: "keep", datasets: "pooled", resamples: 1000, optionOrder: "survey" });
  });

  it("names the file, line and field of every problem", () => {
    const text = ["name: Bad Name", "title: t", "conventions:", "  metric: tv", "  refusals: maybe", "  resamples: 5", "  order: survey"].join("\n");
    assert.deepEqual(fileProblems(() => parseProtocol(text, "my.yaml")).split("\n"), [
      'my.yaml: line 1, name: expected lower case letters, digits, ".", "_" or "-", starting with a letter',
      "my.yaml: line 5, conventions.refusals: expected drop or keep",
      "my.yaml: line 6, conventions.resamples: expected an integer >= 10",
      "my.yaml: line 7, conventions.order: unknown field",
    ]);
    assert.match(fileProblems(() => parseProtocol("name: x\ntitle: t\nconventions:\n  metric: kl\n", "my.yaml")), /^my\.yaml: line 4, conventions\.metric: unknown metric "kl" \(choose one of: wasserstein, tv, jsd, mean/);
    assert.equal(fileProblems(() => parseProtocol("name: x\nconventions:\n  refusals: keep\n", "my.yaml")), "my.yaml: title: required\nmy.yaml: line 2, conventions.metric: required");
    assert.equal(
      fileProblems(() => parseProtocol("name: x\ntitle: t\nconventions:\n  metric: wasserstein\n  refusals: keep\n", "my.yaml")),
      "my.yaml: line 4, conventions.metric: wasserstein needs an ordinal scale, where refusals kept as options have no place (use tv or jsd with refusals: keep)",
    );
    assert.match(fileProblems(() => parseProtocol("name: x\ntitle: [t\n", "my.yaml")), /^my\.yaml: line \d+, column \d+: /);
    assert.equal(fileProblems(() => parseProtocol("- a list\n", "my.yaml")), "my.yaml: expected a mapping with name, title, source and conventions");
  });

  it("is read, registered under its name and used as a built-in; a name another protocol has is refused", async () => {
    assert.ok(isProtocolFile("./p.yaml") && isProtocolFile("p.json") && isProtocolFile("dir/p") && !isProtocolFile("meister2024"));
    const file = path.join(dir, "alpha.yaml");
    writeFileSync(file, "name: alpha-tv\ntitle: tv in alphabetical order\nconventions:\n  metric: tv\n  option_order: alphabetical\n  resamples: 200\n");
    const p = await resolveProtocol(file);
    assert.equal(protocols.get("alpha-tv"), p);
    assert.equal(await loadProtocolFile(file), p, "reading the same file again is fine");
    const suite: Suite = await loadOpinionQA({ data: OPINIONQA });
    const c = resolveConventions(suite, { protocol: "alpha-tv" });
    assert.deepEqual(c, { metric: "tv", refusals: "drop", datasets: "pooled", resamples: 200, optionOrder: "alphabetical", protocol: "alpha-tv" });

    const clash = path.join(dir, "clash.yaml");
    writeFileSync(clash, "name: meister2024\ntitle: mine\nconventions:\n  metric: tv\n");
    const e = await rejectsCivitas(loadProtocolFile(clash), "input");
    assert.equal(e.message, `${clash}: name: a protocol named "meister2024" is registered already (built in); give yours another name`);
    writeFileSync(clash, "name: alpha-tv\ntitle: another\nconventions:\n  metric: jsd\n");
    assert.match((await rejectsCivitas(loadProtocolFile(clash), "input")).message, /a protocol named "alpha-tv" is registered already \(from .*alpha\.yaml\)/);
    const missing = await rejectsCivitas(resolveProtocol(path.join(dir, "none.yaml")), "usage");
    assert.match(missing.message, /^no protocol file .*none\.yaml$/);
  });
});

describe("--protocol <file> on the command line", () => {
  let dir: string;
  let preds: string;
  before(async () => {
    dir = tempDir();
    // Real distributions: the Democrats' answers to the first 30 questions of the distalign
    // subset, claimed as predictions for Republicans (every option, refusals included).
    const suite = await loadDistAlign({ data: path.join(SHARED, "data/distalign") });
    const lines: string[] = [];
    for (const q of suite.questions.filter((x) => x.dataset === "opinionqa").slice(0, 30)) {
      const h = suite.human(q.id, "POLPARTY=Democrat");
      if (h?.allProbs) lines.push(JSON.stringify({ question: q.id, population: "POLPARTY=Republican", distribution: h.allProbs }));
    }
    preds = path.join(dir, "preds.jsonl");
    writeFileSync(preds, `${lines.join("\n")}\n`);
  });

  it("the example file scores as meister2024 on one dataset, and names itself in the result", async () => {
    const args = ["score", "distalign", "--data", path.join(SHARED, "data/distalign"), "--predictions", preds, "--json"];
    const [file, builtin, other] = await Promise.all([
      runCli([...args, "--protocol", EXAMPLE]),
      runCli([...args, "--protocol", "meister2024"]),
      runCli([...args, "--protocol", "santurkar2023"]),
    ]);
    assert.equal(file.code, 0, file.stderr);
    const f = JSON.parse(file.stdout);
    const b = JSON.parse(builtin.stdout);
    assert.equal(f.protocol, "meister2024-pooled");
    assert.equal(b.protocol, "meister2024");
    // The same conventions on one dataset (pooled and equal weighting agree): the same numbers.
    assert.deepEqual(f.populations, b.populations);
    assert.notDeepEqual(f.populations, JSON.parse(other.stdout).populations);
  });

  it("a malformed file exits 1 naming the file, line and field; a missing one exits 2", async () => {
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(bad, "name: bad\ntitle: t\nconventions:\n  metric: kl\n");
    const r = await runCli(["score", "opinionqa", "--data", OPINIONQA, "--predictions", preds, "--protocol", bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`error: ${bad.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&")}: line 4, conventions\\.metric: unknown metric "kl"`));
    assert.match(r.stderr, /Writing a protocol/);
    const missing = await runCli(["eval", "opinionqa", "--model", "llama:x.gguf", "--protocol", path.join(dir, "none.yaml")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error: no protocol file .*none\.yaml/);
  });
});
