/**
 * `civitas steer` as a user runs it: on stories260K (one thread) and 10 OpinionQA questions in two
 * presentations, its --json, the stored run (`runs show`, `report`), its help, and its refusals.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { checkPrinted } from "../../src/results/index.js";
import { startViewer } from "../../src/view/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const dir = tempDir();
const store = path.join(dir, "steer.duckdb");
const base = ["steer", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--threads", "1", "--store", store, "--progress", "none"];

describe("civitas steer", () => {
  let run: CliResult;
  let json: Record<string, unknown> & { run: string; variants_check: { variants: string[]; methods: { method: string }[] } | null };
  before(async () => {
    run = await runCli([...base, "--populations", "POLPARTY=Democrat,POLPARTY=Republican", "--limit", "10", "--fewshot-k", "1", "--resamples", "50", "--variants", "standard;order=reversed", "--json"]);
    json = JSON.parse(run.stdout) as typeof json;
  });

  it("prints a steer result that matches its schema, with the variants check and every method", () => {
    assert.equal(run.code, 0, run.stderr);
    checkPrinted("steer", json);
    assert.deepEqual(json.variants_check!.variants, ["standard", "order=reversed"]);
    assert.deepEqual(
      json.variants_check!.methods.map((m) => m.method),
      ["persona", "fewshot", "linear", "calibrate"],
    );
  });

  it("is stored: runs show prints the same result, and the report has its section", async () => {
    const shown = await runCli(["runs", "show", json.run, "--store", store, "--json"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), json);
    const text = await runCli(["runs", "show", json.run, "--store", store]);
    assert.match(text.stdout, /alignment steered toward a target \(rows\) with each evaluated population \(columns\)/u);
    assert.match(text.stdout, /does each gain over unsteered survive the 2 variants\?/u);
    assert.match(text.stdout, /pluralism \(Sorensen et al\. 2024\): distributional/u);
    const out = path.join(dir, "report.html");
    const report = await runCli(["report", json.run, "--store", store, "-o", out]);
    assert.equal(report.code, 0, report.stderr);
    const html = readFileSync(out, "utf8");
    assert.match(html, /Target x evaluated population/u);
    assert.match(html, /Does each gain survive the variants\?/u);
    const exported = await runCli(["export", json.run, "--store", store, "--format", "csv", "--out", path.join(dir, "x.csv")]);
    assert.notEqual(exported.code, 0);
    assert.match(exported.stderr, /is a steering run: its answers are in its eval runs/u);
  });

  it("the viewer lists the run and shows its page", async () => {
    const viewer = await startViewer({ file: store, port: 0 });
    try {
      const list = await (await fetch(viewer.url)).text();
      assert.ok(list.includes(`/runs/${json.run}`));
      const page = await fetch(`${viewer.url}runs/${json.run}`);
      assert.equal(page.status, 200);
      const body = await page.text();
      for (const h of ["Gains, mean over 2 targets", "Target x evaluated population", "Does each gain survive the variants?", "Pluralism (Sorensen et al. 2024)"]) assert.ok(body.includes(h), h);
    } finally {
      await viewer.close();
    }
  });

  it("realign against a reference model (a second copy of the file): l tuned on dev from --realign-l, the same answers as the persona", async () => {
    const copy = path.join(dir, "reference.gguf");
    copyFileSync(MODEL, copy);
    const r = await runCli([...base, "--populations", "POLPARTY=Democrat", "--limit", "10", "--methods", "persona,realign", "--ref-model", `llama:${copy}`, "--realign-l", "0,1", "--resamples", "50", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { methods: { method: string; asks: boolean; knob: { name: string; grid: number[]; value: number } | null }[]; overall: { methods: { method: string; alignment: { mean: number } }[] }; cost: { method: string; tokens_per_question: number }[] };
    checkPrinted("steer", out);
    const realign = out.methods.find((m) => m.method === "realign")!;
    assert.equal(realign.asks, true);
    assert.deepEqual([realign.knob!.name, realign.knob!.grid], ["l", [0, 1]]);
    // The reference has the model's own weights, so at any l realign answers what the persona
    // prompt gets from the model: the same alignment (1e-3: test/steer/realign.test.ts's 1e-2
    // relative on each probability, far less on a mean of distances; measured ~1e-6).
    const alignment = (m: string) => out.overall.methods.find((x) => x.method === m)!.alignment.mean;
    assert.ok(Math.abs(alignment("realign") - alignment("persona")) < 1e-3, `${alignment("realign")} vs ${alignment("persona")}`);
    // Its cost: both sides' prompts, so twice the persona's prompt tokens.
    const cost = (m: string) => out.cost.find((x) => x.method === m)!.tokens_per_question;
    assert.ok(Math.abs(cost("realign") - 2 * cost("persona")) <= 0.02 * cost("persona"), `${cost("realign")} vs 2 x ${cost("persona")}`);
  });

  it("--help teaches: the steps, the methods, the split", async () => {
    const help = await runCli(["steer", "--help"]);
    assert.equal(help.code, 0);
    for (const text of ["What it does:", "--split <kind>", "held-out", "linear", "Linear Alignment", "calibrate", "--config <file>", "realign"]) assert.ok(help.stdout.includes(text), text);
    const flat = help.stdout.replace(/\s+/gu, " ");
    assert.doesNotMatch(flat, /\(default: \[\]\)/u);
    assert.match(flat, /--methods <list> steering methods, comma separated: persona, fewshot, linear, calibrate, realign \(default: persona,fewshot,linear,calibrate\)/u);
  });

  it("refuses realign without exactly one of --ref-model and --lora, with a model that is not llama:, and an unknown method, naming what and where", async () => {
    const realign = ["--populations", "POLPARTY", "--limit", "10", "--methods", "persona,realign"];
    const neither = await runCli([...base, ...realign]);
    assert.equal(neither.code, 2, neither.stderr);
    assert.match(neither.stderr, /realign needs a reference model \(--ref-model\) or a LoRA adapter \(--lora\)/u);
    const both = await runCli([...base, ...realign, "--ref-model", `llama:${MODEL}`, "--lora", MODEL]);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /realign takes one of --ref-model and --lora, not both/u);
    const remoteRef = await runCli([...base, ...realign, "--ref-model", "openai:gpt-4o-mini"]);
    assert.equal(remoteRef.code, 2, remoteRef.stderr);
    assert.match(remoteRef.stderr, /--ref-model must be a llama: model .*got openai:/u);
    const remote = await runCli(["steer", "opinionqa", "--model", "openai:gpt-4o-mini", "--data", OPINIONQA, "--store", store, "--progress", "none", ...realign, "--lora", MODEL]);
    assert.equal(remote.code, 2, remote.stderr);
    assert.match(remote.stderr, /realign runs on the in-process llama backend: --model must be a llama: model, got openai:/u);
    const scale = await runCli([...base, ...realign, "--lora", `${MODEL}@strong`]);
    assert.equal(scale.code, 2, scale.stderr);
    assert.match(scale.stderr, /--lora must be FILE or FILE@scale with a finite scale, got ".*@strong"/u);
    const sampled = await runCli([...base, ...realign, "--lora", MODEL, "--method", "sample"]);
    assert.equal(sampled.code, 2, sampled.stderr);
    assert.match(sampled.stderr, /realign reads option probabilities: it runs with --method logprobs only/u);
    const remoteLinear = await runCli(["steer", "opinionqa", "--model", "openai:gpt-4o-mini", "--data", OPINIONQA, "--store", store, "--progress", "none", "--populations", "POLPARTY", "--methods", "linear", "--method", "sample"]);
    assert.equal(remoteLinear.code, 2, remoteLinear.stderr);
    assert.match(remoteLinear.stderr, /linear with --method sample decodes two prompts token by token on the in-process llama backend: --model must be a llama: model, got openai:/u);
    const samples = await runCli([...base, "--populations", "POLPARTY", "--samples", "4"]);
    assert.equal(samples.code, 2, samples.stderr);
    assert.match(samples.stderr, /--samples is for --method sample or sequence/u);
    const knob = await runCli([...base, "--populations", "POLPARTY", "--realign-l", "0,1"]);
    assert.equal(knob.code, 2, knob.stderr);
    assert.match(knob.stderr, /--realign-l is for the realign method/u);
    const unknown = await runCli([...base, "--populations", "POLPARTY", "--methods", "vectors"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown steering method "vectors"/u);
    const missing = await runCli([...base, "--populations", "POLPARTY", "--config", path.join(dir, "nowhere.yaml")]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /nowhere\.yaml/u);
    const config = path.join(dir, "personas.yaml");
    writeFileSync(config, "POLPARTY=Democrat: You are a Democrat.\nPOLPARTY=Republican:\n");
    const bad = await runCli([...base, "--populations", "POLPARTY", "--config", config]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /personas\.yaml:2: POLPARTY=Republican: expected the text that describes the population/u);
  });
});
