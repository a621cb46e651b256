import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  countryOfPopulation,
  GLOBALOPINIONS_BASE_URL,
  GLOBALOPINIONS_CITATION,
  GLOBALOPINIONS_TITLE,
  globalOpinionsQuestionId,
  isRefusalOption,
  loadGlobalOpinions,
  parseSelections,
} from "../../src/surveys/globalopinions.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import type { Suite } from "../../src/surveys/types.js";
import { rejectsCivitas } from "../helpers/errors.js";

const DISTALIGN_DIR = fileURLToPath(new URL("../../../shared/data/distalign", import.meta.url));
const GV_DIR = path.join(DISTALIGN_DIR, "globalvalues");
const GV_FILE = path.join(GV_DIR, "data.json");

const CHINA =
  "Thinking about our relations with China, in your view, which is more important - being tough with China on " +
  "territorial disputes between China and our country OR having a strong economic relationship with China?";
const SCIENCE =
  "Please tell us if you strongly agree, agree, disagree, or strongly disagree with the following statements:\n\n" +
  "Whenever science and religion conflict, religion is always right";

function approxArray(actual: readonly number[] | undefined, expected: readonly number[], what: string): void {
  assert.ok(actual, `${what} is defined`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) < 1e-12, `${what}[${i}]: ${a} vs ${expected[i]}`));
}

function byText(s: Suite, text: string) {
  const q = s.questions.find((x) => x.text === text);
  assert.ok(q, `question ${JSON.stringify(text.slice(0, 40))} is loaded`);
  return q;
}

let subset: Suite;
let tmp: string;
before(async () => {
  subset = await loadGlobalOpinions({ data: GV_DIR });
  tmp = await mkdtemp(path.join(tmpdir(), "civitas-go-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("GlobalOpinionQA subset (Meister et al. Global_Values/data/data.json)", () => {
  it("has 100 questions and 26 country populations, the suite fields", () => {
    assert.equal(subset.name, "globalopinions");
    assert.equal(subset.questions.length, 100);
    assert.equal(subset.populations.length, 26);
    assert.ok(subset.populations.every((p) => p.attribute === "country" && p.id === `country=${p.value}`));
    assert.deepEqual(
      subset.populations.slice(0, 4).map((p) => p.value),
      ["Argentina", "Australia", "Brazil", "Britain"],
    );
    assert.equal(subset.reference, null);
    assert.equal(subset.defaultMetric, "jsd");
    assert.ok(subset.title.startsWith(GLOBALOPINIONS_TITLE));
    assert.match(subset.title, /100-question subset of Meister et al\. 2024/);
    assert.equal(subset.citation, GLOBALOPINIONS_CITATION);
    assert.deepEqual(subset.personaTemplates, { country: "Answer as someone who lives in {value}." });
    assert.equal(subset.location, GV_FILE);
    assert.ok(subset.questions.every((q) => q.ordinals === null && q.dataset === undefined));
  });

  it("ids are GO- + the first 8 hex of sha256(text), unique", () => {
    const ids = subset.questions.map((q) => q.id);
    assert.equal(new Set(ids).size, 100);
    for (const q of subset.questions) {
      assert.equal(q.id, `GO-${createHash("sha256").update(q.text).digest("hex").slice(0, 8)}`);
    }
    assert.equal(byText(subset, CHINA).id, "GO-996adb3c");
    assert.equal(globalOpinionsQuestionId(CHINA), "GO-996adb3c");
  });

  it("merged wordings: each country keeps its zeros on the wording it was not asked; DK/Refused is not scored", () => {
    const q = byText(subset, CHINA);
    assert.deepEqual(q.options, [
      "Being tough with China",
      "Having a strong relationship with China",
      "Being tough with China on territorial disputes",
      "Having a strong economic relationship with China",
      "DK/Refused",
    ]);
    assert.deepEqual(q.refusal, [false, false, false, false, true]);
    // Raw: Japan [0.45, 0.47, 0, 0, 0.08], Philippines [0, 0, 0.28, 0.67, 0.05], Indonesia [0.5135..., 0.4864..., 0, 0, 0].
    const japan = subset.human(q.id, "country=Japan");
    approxArray(japan?.probs, [0.45 / 0.92, 0.47 / 0.92, 0, 0], "Japan probs");
    approxArray(japan?.allProbs, [0.45, 0.47, 0, 0, 0.08], "Japan allProbs");
    assert.equal(japan?.n, null);
    const phil = subset.human(q.id, "country=Philippines");
    approxArray(phil?.probs, [0, 0, 0.28 / 0.95, 0.67 / 0.95], "Philippines probs");
    approxArray(phil?.allProbs, [0, 0, 0.28, 0.67, 0.05], "Philippines allProbs");
    const indo = subset.human(q.id, "country=Indonesia");
    approxArray(indo?.probs, [0.5135135135135135, 0.4864864864864865, 0, 0], "Indonesia probs");
    assert.equal(subset.human(q.id, "country=Germany"), undefined, "a country not asked has no distribution");
  });

  it("shares summing to 1.002 are renormalised; Don't know, No answer and Missing are not scored", () => {
    const q = byText(subset, SCIENCE);
    assert.deepEqual(q.options, ["Strongly agree", "Agree", "Disagree", "Strongly disagree", "Don't know", "No answer", "Missing; Not available"]);
    assert.deepEqual(q.refusal, [false, false, false, false, true, true, true]);
    // Japan: [0.007, 0.021, 0.412, 0.251, 0.305, 0.006, 0.0], sum 1.002; scored sum 0.691.
    const raw = [0.006999999999999999, 0.021, 0.41200000000000003, 0.251, 0.305, 0.006, 0.0];
    const japan = subset.human(q.id, "country=Japan");
    approxArray(japan?.probs, [0.007 / 0.691, 0.021 / 0.691, 0.412 / 0.691, 0.251 / 0.691], "Japan probs");
    approxArray(japan?.allProbs, raw.map((p) => p / 1.002), "Japan allProbs");
    assert.ok(Math.abs(japan!.allProbs!.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  });

  it("a country whose mass is all on refusals has nothing to score unless refusals are kept (Turkey, two WVS questions)", () => {
    const q = subset.questions.find((x) => x.id === "GO-8a0e7698");
    assert.ok(q);
    assert.deepEqual(q.options.at(-1), "Missing; Not available");
    // No scored options (refusals dropped: skipped); all options (refusals kept, meister2024: scored).
    const turkey = subset.human(q.id, "country=Turkey")!;
    assert.deepEqual([turkey.probs, turkey.allProbs], [[], [0, 0, 0, 0, 0, 1]]);
    approxArray(subset.human(q.id, "country=Jordan")?.probs, [0.016 / 0.674, 0.612 / 0.674, 0.046 / 0.674], "Jordan probs");
    assert.deepEqual(subset.human("GO-05402e90", "country=Turkey")?.probs, []);
  });

  it("marks exactly the non-substantive options of the subset as refusals", () => {
    const refusals = new Set<string>();
    const scored = new Set<string>();
    for (const q of subset.questions) q.options.forEach((o, i) => (q.refusal[i] ? refusals : scored).add(o));
    assert.deepEqual([...refusals].sort(), [
      "Can't rate (VOL)",
      "DK/Refused",
      "Don't know",
      "Don't know/Refused",
      "Missing; Not available",
      "Missing; Not available; Not applicable",
      "Missing; Unknown",
      "No answer",
      "Other missing; Multiple answers Mail (EVS)",
      "Other missing; Not applicable; Multiple answers Mail (EVS)",
    ]);
    for (const o of ["Neither (VOL)", "Both (DO NOT READ)", "Never heard of (VOL)", "Depends on the situation (VOL)", "None of these (VOL)", "Other (VOL)"]) {
      assert.ok(scored.has(o), `${o} is scored`);
    }
    assert.equal(isRefusalOption("Don’t know"), true, "curly apostrophe");
    assert.equal(isRefusalOption("Refused (VOL)"), true);
    assert.equal(isRefusalOption("Unknown future"), false);
  });

  it("every distribution sums to 1 over the scored options and matches its question", () => {
    let n = 0;
    for (const q of subset.questions) {
      const k = q.refusal.filter((r) => !r).length;
      for (const p of subset.populations) {
        const h = subset.human(q.id, p.id);
        if (!h) continue;
        assert.equal(h.allProbs!.length, q.options.length);
        if (h.probs.length === 0) continue; // the two Turkey cases: all on refusals
        n++;
        assert.equal(h.probs.length, k);
        assert.ok(Math.abs(h.probs.reduce((a, b) => a + b, 0) - 1) < 1e-9);
        assert.ok(h.probs.every((x) => x >= 0));
      }
    }
    assert.equal(n, 300, "3 countries per question (4 on two), minus the two Turkey cases");
  });

  it("accepts data.json, its folder or the distalign folder, with one fingerprint", async () => {
    const a = await loadGlobalOpinions({ data: GV_FILE });
    const b = await loadGlobalOpinions({ data: DISTALIGN_DIR });
    assert.equal(a.fingerprint, subset.fingerprint);
    assert.equal(b.fingerprint, subset.fingerprint);
    assert.match(subset.fingerprint, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      a.questions.map((q) => q.id),
      subset.questions.map((q) => q.id),
    );
  });
});

// A hand-made file in the format of Anthropic/llm_global_opinions data/global_opinions.csv, as
// pandas writes it (index column, quoted cells, "" for quotes, a line break inside a question).
const CSV_ROWS = [
  ",question,selections,options,source",
  `0,"${CHINA}","defaultdict(<class 'list'>, {'Japan': [0.45, 0.47, 0.0, 0.0, 0.08], 'Philippines': [0.0, 0.0, 0.28, 0.67, 0.05]})","['Being tough with China', 'Having a strong relationship with China', 'Being tough with China on territorial disputes', 'Having a strong economic relationship with China', 'DK/Refused']",GAS`,
  `1,"How important is God in your life?`,
  `Please answer on this scale.","defaultdict(<class 'list'>, {'India (Non-national sample)': [0.5, 0.3, 0.15, 0.05], 'India (Current national sample)': [0.6, 0.3, 0.1, 0.0], 'Egypt': [0.9, 0.1, 0.0, 0.0], 'Egypt (Non-national sample)': [0.8, 0.2, 0.0, 0.0], ""Cote d'Ivoire"": [nan, nan, nan, nan], 'Jordan': [0.0, 0.0, 0.7, 0.3], 'Turkey': [0.51, 0.51, 0.0, 0.0]})","['Very important', ""Isn't important"", ""Don't know"", 'No answer']",WVS`,
  `2,,"defaultdict(<class 'list'>, {})",[],GAS`,
];

async function writeCsv(rows: readonly string[], name = "global_opinions.csv"): Promise<string> {
  const dir = await mkdtemp(path.join(tmp, "csv-"));
  const file = path.join(dir, name);
  await writeFile(file, `${rows.join("\n")}\n`);
  return file;
}

describe("GlobalOpinionQA full dataset format (global_opinions.csv)", () => {
  let csv: Suite;
  let csvFile: string;
  before(async () => {
    csvFile = await writeCsv(CSV_ROWS);
    csv = await loadGlobalOpinions({ data: csvFile });
  });

  it("parses questions, options, sources; skips a row without a question", () => {
    assert.equal(csv.questions.length, 2);
    assert.equal(csv.title, GLOBALOPINIONS_TITLE);
    const china = csv.questions[0]!;
    assert.equal(china.id, "GO-996adb3c", "same id as in the subset");
    assert.equal(china.source, "GAS");
    const god = csv.questions[1]!;
    assert.equal(god.text, "How important is God in your life?\nPlease answer on this scale.");
    assert.deepEqual(god.options, ["Very important", "Isn't important", "Don't know", "No answer"]);
    assert.deepEqual(god.refusal, [false, false, true, true]);
    assert.equal(god.source, "WVS");
  });

  it("gives the same distributions as the subset for the same question", () => {
    const id = "GO-996adb3c";
    assert.deepEqual(csv.human(id, "country=Japan"), subset.human(id, "country=Japan"));
    assert.deepEqual(csv.human(id, "country=Philippines"), subset.human(id, "country=Philippines"));
  });

  it("renormalises, has no distribution for nan, and none to score for an all-refusal country unless refusals are kept", () => {
    const god = csv.questions[1]!.id;
    approxArray(csv.human(god, "country=India (Non-national sample)")?.probs, [0.5 / 0.8, 0.3 / 0.8], "India NN");
    approxArray(csv.human(god, "country=India (Non-national sample)")?.allProbs, [0.5, 0.3, 0.15, 0.05], "India NN all");
    approxArray(csv.human(god, "country=Turkey")?.probs, [0.5, 0.5], "Turkey (sum 1.02)");
    approxArray(csv.human(god, "country=Turkey")?.allProbs, [0.5, 0.5, 0, 0], "Turkey all");
    assert.equal(csv.human(god, "country=Cote d'Ivoire"), undefined, "nan");
    const jordan = csv.human(god, "country=Jordan")!;
    assert.deepEqual(jordan.probs, [], "all mass on refusals: no scored options");
    assert.ok(Math.abs(jordan.allProbs!.reduce((a, b) => a + b, 0) - 1) < 1e-12 && jordan.allProbs!.slice(0, 2).every((x) => x === 0), "all mass on refusals");
    assert.ok(csv.populations.some((p) => p.value === "Cote d'Ivoire"), "still a population");
  });

  it("sample notes: separate populations; country=India is an error, not a match of both", () => {
    const values = csv.populations.map((p) => p.value);
    assert.ok(values.includes("India (Non-national sample)") && values.includes("India (Current national sample)"));
    const nn = resolvePopulations(csv, ["country=India (Non-national sample)"]);
    assert.deepEqual(nn.map((p) => p.id), ["country=India (Non-national sample)"]);
    assert.deepEqual(resolvePopulations(csv, ["country=Egypt"]).map((p) => p.id), ["country=Egypt"]);
    assert.equal(resolvePopulations(csv, ["country"]).length, csv.populations.length);
    assert.throws(
      () => resolvePopulations(csv, ["country=India"]),
      (e: unknown) => e instanceof Error && /country has no value "India"/.test(e.message),
    );
    assert.equal(countryOfPopulation("India (Non-national sample)"), "India");
    assert.equal(countryOfPopulation("India (Old national sample)"), "India");
    assert.equal(countryOfPopulation("Egypt"), "Egypt");
    assert.equal(countryOfPopulation("Bosnia (Herzegovina)"), "Bosnia (Herzegovina)");
  });

  it("accepts a folder holding global_opinions.csv (or data/global_opinions.csv)", async () => {
    const dir = await mkdtemp(path.join(tmp, "folder-"));
    await mkdir(path.join(dir, "data"));
    await copyFile(csvFile, path.join(dir, "data", "global_opinions.csv"));
    const s = await loadGlobalOpinions({ data: dir });
    assert.equal(s.fingerprint, csv.fingerprint);
  });

  it("parseSelections: the defaultdict repr, escapes, trailing commas, errors with the position", () => {
    const m = parseSelections(`defaultdict(<class 'list'>, {'A\\'s': [1, 0.5e-1,], "B": []})`, "x");
    assert.deepEqual([...m], [["A's", [1, 0.05]], ["B", []]]);
    assert.deepEqual([...parseSelections("{}", "x")], []);
    assert.throws(() => parseSelections("defaultdict(<class 'list'>, {'A': [0.1, abc]})", "file.csv line 3"), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /^file\.csv line 3: share "abc" of "A" is not a number at character \d+/);
      return true;
    });
    assert.throws(() => parseSelections("{'A': [0.1], 'A': [0.2]}", "f"), /listed twice/);
    assert.throws(() => parseSelections("{'A': [0.1]} extra", "f"), /unexpected text after/);
  });
});

describe("GlobalOpinionQA download (pinned by URL, not by sha256)", () => {
  it("downloads the CSV once from the pinned Hugging Face commit and reports it unverified", async () => {
    const bytes = await readFile(await writeCsv(CSV_ROWS));
    const sha = createHash("sha256").update(bytes).digest("hex");
    const cacheDir = await mkdtemp(path.join(tmp, "cache-"));
    const urls: string[] = [];
    const reports: { file: string; url: string; sha256: string; fetched: boolean }[] = [];
    const s = await loadGlobalOpinions({
      cacheDir,
      env: {},
      fetchImpl: (async (url: string | URL | Request) => {
        urls.push(String(url));
        return new Response(bytes);
      }) as typeof fetch,
      onUnverified: (r) => reports.push(r),
    });
    assert.deepEqual(urls, [`${GLOBALOPINIONS_BASE_URL}data/global_opinions.csv`]);
    assert.match(GLOBALOPINIONS_BASE_URL, /\/resolve\/5c87e48d8db8ffc9ae8a6738f958d5130ee116e5\/$/);
    assert.equal(s.questions.length, 2);
    assert.equal(s.location, path.join(cacheDir, "data", "globalopinions", "data", "global_opinions.csv"));
    assert.deepEqual(reports, [{ file: "data/global_opinions.csv", url: urls[0], sha256: sha, fetched: true }]);

    // Second load: from the cache, no request, still reported.
    const again = await loadGlobalOpinions({
      cacheDir,
      env: {},
      fetchImpl: (async () => assert.fail("no download expected")) as typeof fetch,
      onUnverified: (r) => reports.push(r),
    });
    assert.equal(again.fingerprint, s.fingerprint);
    assert.equal(reports[1]!.fetched, false);
    assert.equal(reports[1]!.sha256, sha);
  });

  it("CIVITAS_GLOBALOPINIONS_URL replaces the base URL; an HTTP error names the URL", async () => {
    const cacheDir = await mkdtemp(path.join(tmp, "cache-"));
    const urls: string[] = [];
    const e = await rejectsCivitas(
      loadGlobalOpinions({
        cacheDir,
        env: { CIVITAS_GLOBALOPINIONS_URL: "http://mirror.invalid/go/" },
        fetchImpl: (async (url: string | URL | Request) => {
          urls.push(String(url));
          return new Response("nope", { status: 404, statusText: "Not Found" });
        }) as typeof fetch,
      }),
      "network",
    );
    assert.deepEqual(urls, ["http://mirror.invalid/go/data/global_opinions.csv"]);
    assert.match(e.message, /mirror\.invalid\/go\/data\/global_opinions\.csv: HTTP 404/);
  });
});

describe("GlobalOpinionQA bad input", () => {
  it("a truncated data.json: one input error naming the file and the position", async () => {
    const text = await readFile(GV_FILE, "utf8");
    const dir = await mkdtemp(path.join(tmp, "trunc-"));
    const file = path.join(dir, "data.json");
    await writeFile(file, text.slice(0, 5000));
    const e = await rejectsCivitas(loadGlobalOpinions({ data: dir }), "input");
    assert.ok(e.message.startsWith(`${file}: invalid JSON at line `), e.message);
  });

  it("a malformed MC_options string: names the file, the question and the character", async () => {
    const json = JSON.parse(await readFile(GV_FILE, "utf8")) as Record<string, { MC_options: string }>;
    json[CHINA]!.MC_options = "['Being tough with China', 'Having a strong relationship with China'";
    const dir = await mkdtemp(path.join(tmp, "mc-"));
    const file = path.join(dir, "data.json");
    await writeFile(file, JSON.stringify(json));
    const e = await rejectsCivitas(loadGlobalOpinions({ data: file }), "input");
    assert.ok(e.message.startsWith(`${file}: question "Thinking about our relations with China`), e.message);
    assert.match(e.message, /field MC_options: unexpected end, expected ',' or '\]' at character \d+/);
  });

  it("shares that do not match the options, or are negative: names the file, question and country", async () => {
    const json = JSON.parse(await readFile(GV_FILE, "utf8")) as Record<string, Record<string, unknown>>;
    json[CHINA]!.Japan = [0.5, 0.5];
    const dir = await mkdtemp(path.join(tmp, "len-"));
    const file = path.join(dir, "data.json");
    await writeFile(file, JSON.stringify(json));
    const e = await rejectsCivitas(loadGlobalOpinions({ data: file }), "input");
    assert.match(e.message, /data\.json: question "Thinking about.*", country "Japan": 2 shares for 5 options/);
    json[CHINA]!.Japan = [0.5, -0.1, 0, 0, 0.6];
    await writeFile(file, JSON.stringify(json));
    const e2 = await rejectsCivitas(loadGlobalOpinions({ data: file }), "input");
    assert.match(e2.message, /country "Japan": share 2 \("Having a strong relationship with China"\) is -0\.1/);
  });

  it("CSV: a malformed selections cell names the file and line; a duplicate question names both lines", async () => {
    const bad = [...CSV_ROWS];
    bad[1] = bad[1]!.replace("'Philippines': [0.0,", "'Philippines': [0.0;");
    const file = await writeCsv(bad);
    const e = await rejectsCivitas(loadGlobalOpinions({ data: file }), "input");
    assert.ok(e.message.startsWith(`${file} line 2, column selections: `), e.message);

    const dup = [...CSV_ROWS, CSV_ROWS[1]!.replace(/^0,/, "3,")];
    const file2 = await writeCsv(dup);
    const e2 = await rejectsCivitas(loadGlobalOpinions({ data: file2 }), "input");
    assert.match(e2.message, /line 6: question "Thinking about our relations.*" is listed twice \(also .* line 2\)/);

    const file3 = await writeCsv([CSV_ROWS[0]!.replace("selections", "answers"), CSV_ROWS[1]!]);
    const e3 = await rejectsCivitas(loadGlobalOpinions({ data: file3 }), "input");
    assert.match(e3.message, /required column "selections" is missing/);
  });

  it("a missing path is a usage error; a folder without the files an input error", async () => {
    await rejectsCivitas(loadGlobalOpinions({ data: path.join(tmp, "nope") }), "usage");
    const dir = await mkdtemp(path.join(tmp, "empty-"));
    const e = await rejectsCivitas(loadGlobalOpinions({ data: dir }), "input");
    assert.match(e.message, /holds no GlobalOpinionQA file/);
  });
});
