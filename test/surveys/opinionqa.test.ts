import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError } from "../../src/errors.js";
import {
  loadOpinionQA,
  OPINIONQA_ATTRIBUTES,
  OPINIONQA_WAVES,
  resolveWaves,
} from "../../src/surveys/opinionqa.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import { scoredIndices, type Suite } from "../../src/surveys/types.js";
import { rejectsCivitas } from "../helpers/errors.js";

const OPINIONQA_DIR = fileURLToPath(new URL("../../../shared/data/opinionqa", import.meta.url));
const HUMAN_RESP = path.join(OPINIONQA_DIR, "human_resp");

/** probs * n, rounded: the raw counts behind a distribution. */
function countsOf(s: Suite, q: string, pop: string): { counts: number[]; n: number } {
  const h = s.human(q, pop);
  assert.ok(h, `${q} ${pop} has a distribution`);
  assert.ok(h.n !== null);
  return { counts: h.probs.map((p) => Math.round(p * h.n!)), n: h.n };
}

function question(s: Suite, id: string) {
  const q = s.questions.find((x) => x.id === id);
  assert.ok(q, `question ${id} is loaded`);
  return q;
}

let suite: Suite;
before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA_DIR });
});

describe("loadOpinionQA on the shared data", () => {
  it("loads every wave with its question count, in wave order", () => {
    const perWave = new Map<string, number>();
    for (const q of suite.questions) perWave.set(q.source!, (perWave.get(q.source!) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(perWave), {
      W26: 22,
      W27: 47,
      W29: 30,
      W32: 65,
      W34: 59,
      W36: 9,
      W41: 59,
      W42: 26,
      W43: 60,
      W45: 64,
      W49: 29,
      W50: 25,
      W54: 47,
      W82: 76,
      W92: 66,
    });
    assert.deepEqual([...perWave.keys()], [...OPINIONQA_WAVES]);
    assert.equal(suite.questions.length, 684);
    assert.equal(new Set(suite.questions.map((q) => q.id)).size, 684);
    // Data-file order within a wave.
    assert.deepEqual(
      suite.questions.slice(0, 3).map((q) => q.id),
      ["SAFECRIME_W26", "WORLDDANGER_W26", "WORRYG_W26"],
    );
    assert.equal(suite.questions.at(-1)!.source, "W92");
  });

  it("has the suite fields", () => {
    assert.equal(suite.name, "opinionqa");
    assert.equal(suite.title, "OpinionQA (Santurkar et al. 2023), Pew American Trends Panel waves 26-92");
    assert.equal(suite.reference, "overall");
    assert.equal(suite.defaultMetric, "wasserstein");
    assert.equal(suite.location, HUMAN_RESP);
    assert.match(suite.fingerprint, /^[0-9a-f]{64}$/);
  });

  it("lists overall plus the metadata.csv groups of each attribute as populations", () => {
    assert.equal(suite.populations[0]!.id, "overall");
    assert.equal(suite.populations[0]!.attribute, null);
    assert.equal(suite.populations.length, 1 + 4 + 4 + 4 + 6 + 5 + 5 + 5 + 2);
    assert.deepEqual(
      suite.populations.filter((p) => p.attribute === "POLPARTY").map((p) => p.id),
      ["POLPARTY=Republican", "POLPARTY=Democrat", "POLPARTY=Independent", "POLPARTY=Other"],
    );
    assert.deepEqual(
      suite.populations.filter((p) => p.attribute === "RACE").map((p) => p.value),
      ["White", "Black", "Asian", "Hispanic", "Other"],
    );
    const inc = suite.populations.find((p) => p.id === "INCOME=$100,000 or more");
    assert.deepEqual(inc, { id: "INCOME=$100,000 or more", attribute: "INCOME", value: "$100,000 or more" });
    assert.deepEqual([...new Set(suite.populations.map((p) => p.attribute).filter((a) => a))], [...OPINIONQA_ATTRIBUTES]);
    // Groups in the data but not in metadata.csv are not populations.
    for (const id of ["RACE=Mixed Race", "POLPARTY=Refused", "AGE=nan", "INCOME=Refused"]) {
      assert.ok(!suite.populations.some((p) => p.id === id), id);
      assert.equal(suite.human("SAFECRIME_W26", id), undefined, id);
    }
  });

  it("SAFECRIME_W26: options, refusal and ordinals from info.csv", () => {
    const q = question(suite, "SAFECRIME_W26");
    assert.deepEqual(q, {
      id: "SAFECRIME_W26",
      text: "How safe, if at all, would you say your local community is from crime? Would you say it is",
      options: ["Very safe", "Somewhat safe", "Not too safe", "Not at all safe", "Refused"],
      refusal: [false, false, false, false, true],
      ordinals: [1, 2, 3, 4],
      source: "W26",
    });
  });

  it("SAFECRIME_W26 SEX=Male: exact distribution from the raw counts", () => {
    // SEX_data.json "Male": Very safe 659, Somewhat safe 1143, Not too safe 205, Not at all safe 47,
    // Refused 4 (dropped) -> n = 659 + 1143 + 205 + 47 = 2054.
    const h = suite.human("SAFECRIME_W26", "SEX=Male");
    assert.deepEqual(h, {
      questionId: "SAFECRIME_W26",
      population: "SEX=Male",
      probs: [659 / 2054, 1143 / 2054, 205 / 2054, 47 / 2054],
      // Refusals kept, for protocols that score them as options: 2058 answers in all.
      allProbs: [659 / 2058, 1143 / 2058, 205 / 2058, 47 / 2058, 4 / 2058],
      n: 2054,
    });
  });

  it("SAFECRIME_W26 overall: all CREGION groups summed (the attribute with the most respondents)", () => {
    // Very safe 1169, Somewhat safe 2386, Not too safe 494, Not at all safe 109, Refused 10 (dropped):
    // n = 4158 of 4168 respondents. (AGE only totals 4164: 4 respondents have no age group.)
    const h = suite.human("SAFECRIME_W26", "overall");
    assert.deepEqual(h, {
      questionId: "SAFECRIME_W26",
      population: "overall",
      probs: [1169 / 4158, 2386 / 4158, 494 / 4158, 109 / 4158],
      allProbs: [1169 / 4168, 2386 / 4168, 494 / 4168, 109 / 4168, 10 / 4168],
      n: 4158,
    });
  });

  it("WORLDDANGER_W26: non-monotone ordinals [1, 2, 1.5]", () => {
    const q = question(suite, "WORLDDANGER_W26");
    assert.deepEqual(q.ordinals, [1, 2, 1.5]);
    assert.deepEqual(q.refusal, [false, false, false, true]);
    assert.equal(q.options[2], "The world we live in is neither safer nor more dangerous");
    // AGE_data.json "65+": safer 44, more dangerous 923, neither 179, Refused 5 -> n 1146.
    assert.deepEqual(countsOf(suite, "WORLDDANGER_W26", "AGE=65+"), { counts: [44, 923, 179], n: 1146 });
  });

  it("WANTMOVE_W32: 'Not sure' after the ordinals is non-scored", () => {
    const q = question(suite, "WANTMOVE_W32");
    assert.deepEqual(q.options, ["Would want to move", "Would not want to move", "Not sure", "Refused"]);
    assert.deepEqual(q.refusal, [false, false, true, true]);
    assert.deepEqual(q.ordinals, [1, 2]);
    assert.deepEqual(scoredIndices(q), [0, 1]);
    // SEX_data.json "Female": want 892, not want 1344, Not sure 934 and Refused 14 dropped -> n 2236.
    const h = suite.human("WANTMOVE_W32", "SEX=Female")!;
    assert.deepEqual(h.probs, [892 / 2236, 1344 / 2236]);
    assert.equal(h.n, 2236);
  });

  it("EAT3E_W34: no refusal option at all", () => {
    const q = question(suite, "EAT3E_W34");
    assert.deepEqual(q.options, ["Not selected", "Cholesterol"]);
    assert.deepEqual(q.refusal, [false, false]);
    assert.deepEqual(q.ordinals, [0, 1]);
    // RACE_data.json "Black": Not selected 292, Cholesterol 132 -> n 424.
    assert.deepEqual(countsOf(suite, "EAT3E_W34", "RACE=Black"), { counts: [292, 132], n: 424 });
  });

  it("POLICY3_W42: a count key differing in case ('noR') still counts for its option", () => {
    const q = question(suite, "POLICY3_W42");
    assert.equal(
      q.options[2],
      "neither better nor worse at making good policy decisions about scientific issues than other people",
    );
    assert.deepEqual(q.ordinals, [1, 2, 1.5]);
    // POLPARTY_data.json "Democrat": better 934, worse 53, 'neither better noR worse ...' 629,
    // Refused 11 -> n 1616.
    assert.deepEqual(countsOf(suite, "POLICY3_W42", "POLPARTY=Democrat"), { counts: [934, 53, 629], n: 1616 });
  });

  it("GUN_W26: options containing commas come from info.csv, not the broken MC_options", async () => {
    const q = question(suite, "GUN_W26");
    assert.deepEqual(q.options, ["Yes, I own a gun", "No, I don't own any guns", "Refused"]);
    assert.deepEqual(q.refusal, [false, false, true]);
    const raw = JSON.parse(await readFile(path.join(HUMAN_RESP, "American_Trends_Panel_W26/POLPARTY_data.json"), "utf8"));
    assert.equal(raw.GUN_W26.MC_options.length, 5); // the upstream split this test guards against
    // POLPARTY_data.json "Republican": yes 484, no 586, Refused 24 -> n 1070.
    assert.deepEqual(countsOf(suite, "GUN_W26", "POLPARTY=Republican"), { counts: [484, 586], n: 1070 });
  });

  it("ORIENTATIONMOD_W50 keeps its data as given: all-equal ordinals, 'I don't know the answer' non-scored", () => {
    const q = question(suite, "ORIENTATIONMOD_W50");
    assert.deepEqual(q.ordinals, [1, 1, 1, 1]);
    assert.deepEqual(q.refusal, [false, false, false, false, true, true]);
  });

  it("every question has consistent fields and every (question, population) a valid distribution", () => {
    let count = 0;
    for (const q of suite.questions) {
      assert.equal(q.refusal.length, q.options.length, q.id);
      const scored = scoredIndices(q);
      assert.ok(q.ordinals && q.ordinals.length === scored.length, q.id);
      // Refusal options are the trailing ones.
      assert.deepEqual(scored, [...scored.keys()], q.id);
      for (const p of suite.populations) {
        const h = suite.human(q.id, p.id);
        assert.ok(h, `${q.id} ${p.id}`);
        count++;
        assert.equal(h.questionId, q.id);
        assert.equal(h.population, p.id);
        assert.equal(h.probs.length, scored.length);
        const sum = h.probs.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-9, `${q.id} ${p.id} sums to ${sum}`);
        assert.ok(Number.isInteger(h.n) && h.n! > 0);
      }
      // overall has at least as many respondents as any single group.
      const n0 = suite.human(q.id, "overall")!.n!;
      for (const p of suite.populations) assert.ok(suite.human(q.id, p.id)!.n! <= n0);
    }
    assert.equal(count, 684 * 36);
    assert.equal(suite.human("NO_SUCH_QUESTION", "overall"), undefined);
    assert.equal(suite.human("SAFECRIME_W26", "POLPARTY=Green"), undefined);
  });

  it("the groups of an attribute add up to overall when the attribute has no missing groups", () => {
    // CREGION has no Refused group: its 4 groups' scored counts sum to overall's.
    for (const q of suite.questions.slice(0, 50)) {
      const n = ["Northeast", "Midwest", "South", "West"]
        .map((g) => suite.human(q.id, `CREGION=${g}`)!.n!)
        .reduce((a, b) => a + b, 0);
      assert.equal(n, suite.human(q.id, "overall")!.n, q.id);
    }
  });

  it("accepts the folder holding human_resp/ or human_resp/ itself, with the same fingerprint", async () => {
    const direct = await loadOpinionQA({ data: HUMAN_RESP, waves: ["W26"] });
    const parent = await loadOpinionQA({ data: OPINIONQA_DIR, waves: ["w26"] });
    assert.equal(direct.location, parent.location);
    assert.equal(direct.fingerprint, parent.fingerprint);
    assert.equal(direct.questions.length, 22);
    assert.notEqual(direct.fingerprint, suite.fingerprint); // fewer files read
  });

  it("selects waves, and rejects unknown ones", async () => {
    assert.deepEqual(resolveWaves(["92", "w26", "W26"]), ["W26", "W92"]);
    const e = await rejectsCivitas(loadOpinionQA({ data: OPINIONQA_DIR, waves: ["W28"] }), "usage");
    assert.match(e.message, /W28/);
    assert.match(e.hint ?? "", /W26, W27/);
  });
});

// ---------------------------------------------------------------------------------------------

function csvLine(cells: readonly string[]): string {
  return cells.map((c) => (/[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(",");
}

describe("loadOpinionQA on bad input", () => {
  let tmp: string;
  let wave: string;
  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "civitas-oqa-"));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  /** A fresh copy of W26 in its own folder; returns that data folder. */
  async function copyW26(name: string): Promise<string> {
    const data = path.join(tmp, name);
    wave = path.join(data, "American_Trends_Panel_W26");
    await cp(path.join(HUMAN_RESP, "American_Trends_Panel_W26"), wave, { recursive: true });
    return data;
  }

  it("an intact copy loads and gives the same W26 suite", async () => {
    const data = await copyW26("intact");
    const a = await loadOpinionQA({ data, waves: ["W26"] });
    const b = await loadOpinionQA({ data: OPINIONQA_DIR, waves: ["W26"] });
    assert.equal(a.fingerprint, b.fingerprint);
    assert.deepEqual(a.questions, b.questions);
  });

  it("a truncated JSON file: one input error naming the file and the parse position", async () => {
    const data = await copyW26("truncated");
    const file = path.join(wave, "SEX_data.json");
    await truncate(file, 5000);
    const e = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.ok(e.message.includes(file), e.message);
    assert.match(e.message, /invalid JSON at line 1, column \d+ \(character \d+\)/);
    assert.match(e.hint ?? "", /truncated/);
  });

  it("a JSON syntax error: the position is where the error is", async () => {
    const data = await copyW26("syntax");
    const file = path.join(wave, "AGE_data.json");
    const text = await readFile(file, "utf8");
    const at = text.indexOf('"question_text"');
    await writeFile(file, `${text.slice(0, at)}!${text.slice(at + 1)}`);
    const e = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.ok(e.message.includes(file), e.message);
    assert.ok(e.message.includes(`(character ${at})`), e.message);
  });

  it("a missing required info.csv column: names the file, the column and the header found", async () => {
    const data = await copyW26("nocolumn");
    const file = path.join(wave, "info.csv");
    const rows = parseCsv(await readFile(file)) as string[][];
    const drop = rows[0]!.indexOf("references");
    assert.ok(drop > 0);
    await writeFile(file, rows.map((r) => csvLine(r.filter((_, i) => i !== drop))).join("\n") + "\n");
    const e = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.ok(e.message.includes(file), e.message);
    assert.match(e.message, /required column "references" is missing/);
    assert.match(e.message, /"Unnamed: 0\.1", "Unnamed: 0", "key", "option_mapping", "question", "option_ordinal"/);
  });

  it("a malformed references cell: names the file, line, column and character", async () => {
    const data = await copyW26("badrefs");
    const file = path.join(wave, "info.csv");
    const text = await readFile(file, "utf8");
    const broken = text.replace(`"['Very safe', 'Somewhat safe',`, `"['Very safe' 'Somewhat safe',`);
    assert.notEqual(broken, text);
    await writeFile(file, broken);
    const e = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.ok(e.message.startsWith(`${file} line 2, column references: expected ',' or ']'`), e.message);
    assert.match(e.message, /at character 14 /);
  });

  it("a count key that matches no option: names the file, question and key", async () => {
    const data = await copyW26("badkey");
    const file = path.join(wave, "RACE_data.json");
    const json = JSON.parse(await readFile(file, "utf8"));
    json.WORRYG_W26.White["Worry a bit"] = 3;
    await writeFile(file, JSON.stringify(json));
    const e = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.ok(e.message.includes(file), e.message);
    assert.match(e.message, /question WORRYG_W26, group "White": answer "Worry a bit" matches none of the options/);
  });

  it("a non-numeric count: names the file, question, group and answer", async () => {
    const data = await copyW26("badcount");
    const file = path.join(wave, "SEX_data.json");
    const json = JSON.parse(await readFile(file, "utf8"));
    json.GUN_W26.Female.Refused = "12";
    await writeFile(file, JSON.stringify(json));
    const e = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.match(e.message, /SEX_data\.json: question GUN_W26, group "Female", answer "Refused": count "12"/);
  });

  it("a question in the data but not in info.csv is an error", async () => {
    const data = await copyW26("noinfo");
    const file = path.join(wave, "info.csv");
    const lines = (await readFile(file, "utf8")).split("\n").filter((l) => !l.includes(",GUN_W26,"));
    await writeFile(file, lines.join("\n"));
    const e = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.match(e.message, /question GUN_W26 is not in .*info\.csv/);
  });

  it("changing one count changes the fingerprint and the distribution", async () => {
    const data = await copyW26("changed");
    const file = path.join(wave, "SEX_data.json");
    const text = await readFile(file, "utf8");
    const json = JSON.parse(text);
    assert.equal(json.SAFECRIME_W26.Male["Very safe"], 659);
    json.SAFECRIME_W26.Male["Very safe"] = 660;
    await writeFile(file, JSON.stringify(json));
    const a = await loadOpinionQA({ data, waves: ["W26"] });
    const b = await loadOpinionQA({ data: OPINIONQA_DIR, waves: ["W26"] });
    assert.notEqual(a.fingerprint, b.fingerprint);
    assert.equal(a.human("SAFECRIME_W26", "SEX=Male")!.n, 2055);
  });

  it("two count keys matching the same option (case/spacing variants) are added up", async () => {
    const data = await copyW26("variants");
    const file = path.join(wave, "SEX_data.json");
    const json = JSON.parse(await readFile(file, "utf8"));
    json.SAFECRIME_W26.Male["  very   SAFE "] = 3;
    await writeFile(file, JSON.stringify(json));
    const s = await loadOpinionQA({ data, waves: ["W26"] });
    // 659 + 3 Very safe, 1143, 205, 47 -> n 2057
    assert.deepEqual(countsOf(s, "SAFECRIME_W26", "SEX=Male"), { counts: [662, 1143, 205, 47], n: 2057 });
  });

  it("a missing wave file names it", async () => {
    const data = await copyW26("onewave");
    // All waves asked for: W27 is missing.
    const e = await rejectsCivitas(loadOpinionQA({ data }), "input");
    assert.ok(e.message.includes(path.join(data, "American_Trends_Panel_W27", "info.csv")), e.message);
    assert.match(e.hint ?? "", /--data/);
    await rm(path.join(wave, "metadata.csv"));
    const e2 = await rejectsCivitas(loadOpinionQA({ data, waves: ["W26"] }), "input");
    assert.ok(e2.message.includes(path.join(wave, "metadata.csv")), e2.message);
  });

  it("a folder without any wave, or no folder at all", async () => {
    const e = await rejectsCivitas(loadOpinionQA({ data: tmp, waves: ["W26"] }), "input");
    assert.match(e.message, /missing OpinionQA file/);
    assert.match(e.hint ?? "", /holds none of the OpinionQA wave folders/);
    const e2 = await rejectsCivitas(loadOpinionQA({ data: path.join(tmp, "nope") }), "usage");
    assert.ok(e2.message.includes(path.join(tmp, "nope")), e2.message);
  });

  it("an unknown population names the value and lists the valid ones", () => {
    let err: unknown;
    try {
      resolvePopulations(suite, ["POLPARTY=Green"]);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof CivitasError);
    assert.equal(err.kind, "usage");
    assert.match(err.message, /"POLPARTY=Green"/);
    assert.match(err.hint ?? "", /"Republican", "Democrat", "Independent", "Other"/);
  });
});
