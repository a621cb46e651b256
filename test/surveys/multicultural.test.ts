/**
 * "Multilingual != Multicultural" (Rystrøm et al. 2025) on the shared data: what the loader reads
 * (shares checked against the raw CSVs read here with a plain split), the paper's statistic on a
 * case computed by hand, bad files named by file and line, the download from a pinned source
 * (a local HTTP server standing in for GitHub), and an end-to-end eval on stories260K.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { averageRanks, multiculturalScores, spearman } from "../../src/metrics/multicultural.js";
import { suiteExtraScores } from "../../src/runs/extra.js";
import { buildMulticultural, loadMulticultural, MULTICULTURAL_URL_ENV, parsePrompts, type MulticulturalSuite } from "../../src/surveys/multicultural.js";
import { runCli } from "../helpers/cli.js";
import { rejectsCivitas } from "../helpers/errors.js";

const DIR = fileURLToPath(new URL("../../../shared/data/multicultural", import.meta.url));
const MODEL = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

/** The raw country file, split by hand (it has no quoted cells). */
const rawCountry = readFileSync(path.join(DIR, "ground_truth_every_country.csv"), "utf8")
  .trim()
  .split("\n")
  .slice(1)
  .map((l) => l.split(","));

let suite: MulticulturalSuite;
let tmp: string;
before(async () => {
  suite = await loadMulticultural({ data: DIR });
  tmp = await mkdtemp(path.join(tmpdir(), "civitas-multicultural-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("multicultural on the shared data", () => {
  it("13 countries, 4 languages and the global pool; the 32 questions that have stance statements, asked in English", () => {
    assert.deepEqual(
      suite.populations.filter((p) => p.attribute === "country").map((p) => p.value),
      ["AU", "BR", "CA", "DK", "GB", "KE", "NG", "NIR", "NL", "NZ", "PT", "SG", "US"],
    );
    assert.deepEqual(suite.populations.filter((p) => p.attribute === "language").map((p) => p.value), ["da", "en", "nl", "pt"]);
    assert.equal(suite.reference, "global");
    assert.equal(suite.questions.length, 32);
    assert.deepEqual(suite.datasets, ["en"]);
    assert.equal(suite.countryLanguage.get("BR"), "pt");
    assert.equal(suite.countryLanguage.get("NIR"), "en");
    assert.ok(suite.warnings?.some((w) => /51 of 83 questions have no stance statements/u.test(w)));
  });

  it("a question is its two stance statements, pro first; the human distribution is [pro_score, 1 - pro_score] of the raw CSV", () => {
    const q = suite.questions.find((x) => x.id === "e235")!;
    assert.deepEqual(q.options, ["Democracy is important.", "Democracy is not important."]);
    // Rows taken from the raw file (keys are upper case there; the paper's join lower-cases them).
    for (const [country, key, pro] of [
      ["DK", "E235", rawCountry.find((r) => r[0] === "DK" && r[1] === "E235")![2]!],
      ["BR", "F118", rawCountry.find((r) => r[0] === "BR" && r[1] === "F118")![2]!],
      ["US", "D059", rawCountry.find((r) => r[0] === "US" && r[1] === "D059")![2]!],
    ] as const) {
      const h = suite.human(key.toLowerCase(), `country=${country}`)!;
      assert.equal(h.probs[0], Number(pro));
      assert.ok(Math.abs(h.probs[0]! + h.probs[1]! - 1) < 1e-15);
    }
    // A share written out in the README's example row: BR, D026_03, 0.32388537123723465.
    assert.equal(suite.human("d026_03", "country=BR")!.probs[0], 0.32388537123723465);
    // Per language and global, from their own files.
    assert.equal(suite.human("f120", "language=da")!.probs[0], 0.8441041599591297);
    assert.equal(suite.human("f117", "global")!.probs[0], 0.0584656495760807);
  });

  it("takes translated prompts: a question per language, its id <key>@<language>, compared with every country", () => {
    const p = Buffer.from('question_key,language,question,pro,con\nE235,da,Hvilket udsagn er du mest enig i?,Demokrati er vigtigt.,"Demokrati er ikke vigtigt."\n');
    const s = buildMulticultural(filesOf(DIR), namesOf(DIR), DIR, { bytes: p, file: "p.csv" });
    const q = s.questions.find((x) => x.id === "e235@da")!;
    assert.equal(q.dataset, "da");
    assert.deepEqual(q.options, ["Demokrati er vigtigt.", "Demokrati er ikke vigtigt."]);
    assert.deepEqual(s.datasets, ["en", "da"]);
    assert.equal(s.human("e235@da", "country=US")!.probs[0], s.human("e235", "country=US")!.probs[0]);
  });

  it("is listed with its licence (WVS/EVS terms), and shown by name", async () => {
    const show = await runCli(["suites", "show", "multicultural", "--data", DIR]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /32 questions · 18 populations · default metric tv/u);
    assert.match(show.stdout, /licence: MIT .*World Values Survey \/ European Values Study/u);
  });

  it("is downloaded from the pinned source into the cache, verified by sha256, and reused", async () => {
    const hits: string[] = [];
    const server: Server = createServer((req, res) => {
      hits.push(req.url ?? "");
      try {
        res.end(readFileSync(path.join(DIR, path.basename(req.url ?? ""))));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const env = { [MULTICULTURAL_URL_ENV]: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
      const cacheDir = path.join(tmp, "cache");
      const a = await loadMulticultural({ cacheDir, env });
      assert.equal(a.fingerprint, suite.fingerprint);
      assert.equal(hits.length, 4);
      await loadMulticultural({ cacheDir, env });
      assert.equal(hits.length, 4, "the second load reads the cache");
    } finally {
      server.close();
    }
  });

  it("is evaluated end to end in English and Danish (stories260K proves the machinery, not a result)", async () => {
    const prompts = path.join(tmp, "prompts.csv");
    // The first three English questions (ids sorted): c001_01, c002_01, d026_03, also in Danish.
    await writeFile(
      prompts,
      "question_key,language,question,pro,con\n" +
        "c001_01,da,Hvilket udsagn?,Mænd bør have mere ret til et job end kvinder.,Mænd bør ikke have mere ret til et job end kvinder.\n" +
        "c002_01,da,Hvilket udsagn?,Arbejdsgivere bør prioritere landets egne borgere.,Arbejdsgivere bør ikke prioritere landets egne borgere.\n" +
        "d026_03,da,Hvilket udsagn?,Det er en pligt over for samfundet at få børn.,Det er ikke en pligt over for samfundet at få børn.\n",
    );
    const r = await runCli(["eval", "multicultural", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DIR, "--prompts", prompts, "--limit", "3", "--store", path.join(tmp, "m.duckdb"), "--progress", "none", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      suite: string;
      answers: { model_calls: number };
      multicultural: { by_language: { language: string; n: number; groups: { group: string }[] }[]; us_bias: { language: string; native: string[] }[]; native_vs_english: { country: string; n: number }[] };
    };
    assert.equal(j.suite, "multicultural");
    assert.equal(j.answers.model_calls, 6);
    assert.deepEqual(j.multicultural.by_language.map((l) => [l.language, l.n]), [["en", 3], ["da", 3]]);
    assert.equal(j.multicultural.by_language[0]!.groups.length, 18);
    assert.deepEqual(j.multicultural.us_bias.map((b) => [b.language, b.native]), [["en", ["AU", "CA", "GB", "KE", "NG", "NIR", "NZ", "SG"]], ["da", ["DK"]]]);
    assert.deepEqual(j.multicultural.native_vs_english.map((d) => [d.country, d.n]), [["DK", 3]]);
    const text = await runCli(["eval", "multicultural", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DIR, "--prompts", prompts, "--limit", "3", "--store", path.join(tmp, "m.duckdb"), "--progress", "none"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /asked in da \(3 questions\):/u);
    assert.match(text.stdout, /US bias/u);
    assert.match(text.stdout, /DK \(da, 3 questions\):/u);
    const html = path.join(tmp, "m.html");
    const rep = await runCli(["report", (j as unknown as { run: string }).run, "-o", html, "--store", path.join(tmp, "m.duckdb")]);
    assert.equal(rep.code, 0, rep.stderr);
    assert.match(readFileSync(html, "utf8"), /Alignment by the language asked in/u);
  });
});

describe("the paper's statistic on a case computed by hand", () => {
  it("Spearman with average ranks for ties, as scipy.stats.spearmanr", () => {
    assert.deepEqual(averageRanks([1, 2, 2, 3]), [1, 2.5, 2.5, 4]);
    // ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4]: sxy = 4.5, sxx = 4.5, syy = 5: 4.5 / sqrt(22.5).
    assert.ok(Math.abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 4.5 / Math.sqrt(22.5)) < 1e-15);
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])), "a constant series has no correlation");
  });

  it("per language asked: Spearman with each country, the US bias and native minus English", () => {
    const share: Record<string, number[]> = {
      "country=US": [0.2, 0.5, 0.6, 0.8],
      "country=GB": [0.8, 0.6, 0.5, 0.2],
      "country=DK": [0.1, 0.2, 0.3, 0.4],
    };
    const keys = ["a", "b", "c", "d"];
    const en = [0.1, 0.4, 0.3, 0.9];
    const da = [0.5, 0.6, 0.7, 0.8];
    const s = multiculturalScores({
      items: [...keys.map((key, i) => ({ key, language: "da", modelPro: da[i]! })), ...keys.map((key, i) => ({ key, language: "en", modelPro: en[i]! }))],
      share: (k, g) => share[g]?.[keys.indexOf(k)],
      countryLanguage: new Map([["US", "en"], ["GB", "en"], ["DK", "da"]]),
      groups: ["country=US", "country=GB", "country=DK"],
      resamples: 50,
    });
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    assert.deepEqual(s.by_language.map((l) => l.language), ["en", "da"]);
    const en0 = s.by_language[0]!.groups;
    // English answers rank 1,3,2,4. US ranks 1,2,3,4: sum d^2 = 2, rho = 1 - 6*2/(4*15) = 0.8.
    close(en0[0]!.spearman.mean, 0.8);
    // GB ranks 4,3,2,1: sum d^2 = 18, rho = 1 - 108/60 = -0.8.
    close(en0[1]!.spearman.mean, -0.8);
    // The paper's mean_alignment: 1 - (0.1 + 0.1 + 0.3 + 0.1) / 4.
    close(en0[0]!.mean_alignment.mean, 0.85);
    // US bias in English: rho(US) - rho(GB) = 0.8 - (-0.8); in Danish: rho(US) 1 - rho(DK) 1 = 0.
    assert.deepEqual(s.us_bias.map((b) => [b.language, b.native]), [["en", ["GB"]], ["da", ["DK"]]]);
    close(s.us_bias[0]!.us_minus_native.mean, 1.6);
    close(s.us_bias[1]!.us_minus_native.mean, 0);
    // Denmark: rho asked in Danish (1) minus asked in English (ranks 1,3,2,4 vs 1,2,3,4: 0.8).
    assert.deepEqual(s.native_vs_english.map((d) => [d.country, d.language, d.n]), [["DK", "da", 4]]);
    close(s.native_vs_english[0]!.native_minus_english.mean, 0.2);
  });

  it("the run's answers reach it: P(pro) per question and language, from the model's distributions", () => {
    const p = Buffer.from("question_key,language,question,pro,con\n" + ["e235", "f118", "d059", "e290"].map((k) => `${k},da,Q?,ja,nej`).join("\n"));
    const s = buildMulticultural(filesOf(DIR), namesOf(DIR), DIR, { bytes: p, file: "p.csv" });
    const qs = s.questions.filter((q) => ["e235", "f118", "d059", "e290"].includes(q.id.split("@")[0]!));
    // The model copies Denmark's share in Danish and answers 0.5 everywhere in English.
    const model = (q: (typeof qs)[number]) => (q.id.endsWith("@da") ? [[s.human(q.id, "country=DK")!.probs[0]!, s.human(q.id, "country=DK")!.probs[1]!]] : [[0.3, 0.3]]);
    const extra = suiteExtraScores(s, qs, model, 0, 20)!.multicultural!;
    const da = extra.by_language.find((l) => l.language === "da")!;
    assert.equal(da.groups.find((g) => g.group === "country=DK")!.spearman.mean, 1);
    assert.ok(Number.isNaN(extra.by_language.find((l) => l.language === "en")!.groups[0]!.spearman.mean), "constant answers: no correlation");
  });
});

describe("multicultural: bad files name the file and line", () => {
  const known = { keys: new Set(["e235"]), languages: new Set(["da", "en"]) };
  it("a prompts file with an unknown question, an unknown language, an empty cell, a duplicate, a missing column", () => {
    const h = "question_key,language,question,pro,con\n";
    assert.throws(() => parsePrompts(Buffer.from(`${h}e235,da,Q,a,b\nx999,da,Q,a,b\n`), "p.csv", known), /p\.csv line 3, column question_key: "x999" is not a question of the data/u);
    assert.throws(() => parsePrompts(Buffer.from(`${h}e235,fr,Q,a,b\n`), "p.csv", known), /p\.csv line 2, column language: "fr" is not a survey language of the data \(da, en\)/u);
    assert.throws(() => parsePrompts(Buffer.from(`${h}e235,da,Q,,b\n`), "p.csv", known), /p\.csv line 2, column pro: empty/u);
    assert.throws(() => parsePrompts(Buffer.from(`${h}e235,da,Q,a,b\nE235,da,Q,a,b\n`), "p.csv", known), /p\.csv line 3: a second row for e235 in da \(the first at p\.csv line 2\)/u);
    assert.throws(() => parsePrompts(Buffer.from("question_key,language,question,pro\ne235,da,Q,a\n"), "p.csv", known), /p\.csv line 1: required column "con" is missing/u);
  });

  it("a share outside [0, 1] or twice for one country, in the data files", async () => {
    const dir = path.join(tmp, "bad");
    await mkdir(dir, { recursive: true });
    await cp(DIR, dir, { recursive: true });
    const f = path.join(dir, "ground_truth_every_country.csv");
    const lines = readFileSync(path.join(DIR, "ground_truth_every_country.csv"), "utf8").split("\n");
    await writeFile(f, [...lines.slice(0, 3), "DK,E235,1.5,da", ...lines.slice(3)].join("\n"));
    let e = await rejectsCivitas(loadMulticultural({ data: dir }), "input");
    assert.match(e.message, /ground_truth_every_country\.csv line 4: pro_score "1\.5" is not a share in \[0, 1\]/u);
    await writeFile(f, [...lines.slice(0, 3), lines[1]!, ...lines.slice(3)].join("\n"));
    e = await rejectsCivitas(loadMulticultural({ data: dir }), "input");
    assert.match(e.message, /line 4: a second share for d026_03 and country=BR \(the first at .*line 2\)/u);
  });

  it("--prompts with another suite is a usage error", async () => {
    const r = await runCli(["suites", "show", "moca", "--prompts", "x.csv"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--prompts is for the multicultural suite/u);
  });
});

function filesOf(dir: string) {
  const f = (n: string) => readFileSync(path.join(dir, n));
  return { country: f("ground_truth_every_country.csv"), language: f("ground_truth_per_language.csv"), global: f("ground_truth_global.csv"), stance: f("stance_labels.json") };
}
function namesOf(dir: string) {
  return { country: path.join(dir, "ground_truth_every_country.csv"), language: path.join(dir, "ground_truth_per_language.csv"), global: path.join(dir, "ground_truth_global.csv"), stance: path.join(dir, "stance_labels.json") };
}
