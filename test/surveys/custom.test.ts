import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { loadCustom, type CustomSuite } from "../../src/surveys/custom.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { REPO, tempDir } from "../helpers/paths.js";

const root = tempDir("civitas-custom-");
let counter = 0;

/** Writes files into a fresh folder; returns the folder. */
function writeFiles(files: Record<string, string | Buffer>): string {
  const dir = path.join(root, String(counter++));
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** Writes one survey file and returns its path. */
function write(name: string, content: string | Buffer): string {
  return path.join(writeFiles({ [name]: content }), name);
}

function lines(...ls: string[]): string {
  return ls.join("\n") + "\n";
}

function close(actual: readonly number[] | undefined, expected: readonly number[], what: string): void {
  assert.ok(actual, `${what}: has a distribution`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((x, i) => assert.ok(Math.abs(x - expected[i]!) < 1e-12, `${what}[${i}]: ${x} != ${expected[i]}`));
}

function checkHuman(s: CustomSuite, q: string, pop: string, probs: number[], n: number | null, allProbs?: number[]): void {
  const h = s.human(q, pop);
  assert.ok(h, `${q} / ${pop} has a distribution`);
  assert.equal(h.questionId, q);
  assert.equal(h.population, pop);
  close(h.probs, probs, `${q} ${pop} probs`);
  if (allProbs) close(h.allProbs, allProbs, `${q} ${pop} allProbs`);
  assert.equal(h.n, n, `${q} ${pop} n`);
}

/** The load must fail with one input error naming `file line N, column|field F`, whose message matches `re`. */
async function failsAt(data: string, file: string, line: number, field: string | null, re: RegExp): Promise<void> {
  const e = await rejectsCivitas(loadCustom({ data }), "input");
  const fmt = file.endsWith(".csv") || file.endsWith(".tsv") ? "column" : "field";
  const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const at = new RegExp(`${esc(file)} line ${line}( \\(element \\d+\\))?${field === null ? ":" : `, ${fmt} ${esc(field)}:`}`);
  assert.match(e.message, at);
  assert.match(e.message, re);
}

// -------------------------------------------------------------------------------------------------

const AGG_CSV = lines(
  "question_id,question,options,ordinals,population,option,count",
  "PARKS,How much should the town spend on parks?,More | About the same | Less | Refused,1 | 2 | 3,overall,More,6",
  "PARKS,,,,overall,About the same,3",
  "PARKS,,,,overall,Less,1",
  "PARKS,,,,overall,Refused,2",
  "PARKS,How much should the town spend on parks?,,,region=North,More,4",
  "PARKS,,,,region=North,Less,1",
  'NOISE,"Is noise a problem\nwhere you live?","[""Yes"", ""No, not at all"", ""Don\'t know""]",[2; 1],region=North,"No, not at all",3',
  "NOISE,,,,region=North,Yes,1",
  "NOISE,,,,region=North,Don't know,5",
  "NOISE,,,,region=South,Don't know,5",
);

describe("aggregated form", () => {
  it("CSV with counts: options once per question, refusals by name, n = scored count", async () => {
    const file = write("town.csv", AGG_CSV.replace("[2; 1]", '"[2, 1]"'));
    const s = await loadCustom({ data: file });
    assert.equal(s.name, "custom");
    assert.equal(s.form, "aggregated");
    assert.equal(s.title, "town.csv (custom survey)");
    assert.equal(s.reference, "overall");
    assert.equal(s.defaultMetric, "wasserstein");
    assert.equal(s.fingerprint, createHash("sha256").update(readFileSync(file)).digest("hex"));
    assert.deepEqual(s.populations, [
      { id: "overall", attribute: null, value: "overall" },
      { id: "region=North", attribute: "region", value: "North" },
      { id: "region=South", attribute: "region", value: "South" },
    ]);
    const [parks, noise] = s.questions;
    assert.deepEqual(parks, {
      id: "PARKS",
      text: "How much should the town spend on parks?",
      options: ["More", "About the same", "Less", "Refused"],
      refusal: [false, false, false, true],
      ordinals: [1, 2, 3],
    });
    assert.equal(noise!.text, "Is noise a problem\nwhere you live?");
    assert.deepEqual(noise!.options, ["Yes", "No, not at all", "Don't know"]);
    assert.deepEqual(noise!.refusal, [false, false, true]);
    assert.deepEqual(noise!.ordinals, [2, 1]);
    // overall: 6, 3, 1 (+ 2 refused) -> n = 10
    checkHuman(s, "PARKS", "overall", [0.6, 0.3, 0.1], 10, [6 / 12, 3 / 12, 1 / 12, 2 / 12]);
    // a missing option row is a zero count
    checkHuman(s, "PARKS", "region=North", [0.8, 0, 0.2], 5, [0.8, 0, 0.2, 0]);
    assert.equal(s.human("PARKS", "region=South"), undefined);
    checkHuman(s, "NOISE", "region=North", [0.25, 0.75], 4, [1 / 9, 3 / 9, 5 / 9]);
    // only refusals: no distribution, and a warning
    assert.equal(s.human("NOISE", "region=South"), undefined);
    assert.equal(s.warnings.length, 1);
    assert.match(s.warnings[0]!, /town\.csv line 12: question NOISE, population region=South: no answer outside the refusal options/);
    assert.match(s.summary, /aggregated distributions; 2 questions, 3 populations/);
    // the populations are usable by name on the command line
    assert.deepEqual(resolvePopulations(s, ["region"]).map((p) => p.id), ["region=North", "region=South"]);
  });

  it("JSONL with shares: renormalised over scored options, n null, bare names, rounding warning, nominal -> tv", async () => {
    const file = write(
      "values.jsonl",
      lines(
        '{"question_id": "TRUST", "question": "Can most people be trusted?", "options": ["Most can be trusted", "Need to be careful", "DK/Refused"], "population": "country=Korea", "shares": {"Most can be trusted": 0.3, "Need to be careful": 0.6, "DK/Refused": 0.1}}',
        "",
        '{"question_id": "TRUST", "population": "students", "shares": {"most can be trusted": 0.5, "Need to be careful": 0.5}}',
        '{"question_id": 7, "question": "Favourite season?", "options": ["Spring", "Summer", "Autumn", "Winter"], "refusal": [], "population": "country=Korea", "shares": {"Spring": 0.25, "Summer": 0.25, "Autumn": 0.25, "Winter": 0.24}}',
      ),
    );
    const s = await loadCustom({ data: file });
    assert.equal(s.form, "aggregated");
    assert.equal(s.reference, null);
    assert.equal(s.defaultMetric, "tv");
    assert.deepEqual(s.populations.map((p) => [p.id, p.attribute]), [
      ["country=Korea", "country"],
      ["students", null],
    ]);
    assert.deepEqual(s.questions.map((q) => q.id), ["TRUST", "7"]);
    assert.deepEqual(s.questions[0]!.refusal, [false, false, true]);
    assert.equal(s.questions[0]!.ordinals, null);
    checkHuman(s, "TRUST", "country=Korea", [1 / 3, 2 / 3], null, [0.3, 0.6, 0.1]);
    checkHuman(s, "TRUST", "students", [0.5, 0.5], null, [0.5, 0.5, 0]);
    // sums to 0.99: renormalised with a warning naming the line
    checkHuman(s, "7", "country=Korea", [0.25 / 0.99, 0.25 / 0.99, 0.25 / 0.99, 0.24 / 0.99], null);
    assert.equal(s.warnings.length, 1);
    assert.match(s.warnings[0]!, /values\.jsonl line 4: shares of question 7 for country=Korea \(line 4\) sum to 0\.99; renormalised/);
  });

  it("a .json array, and a semicolon CSV with decimal commas", async () => {
    const json = write(
      "survey.json",
      JSON.stringify(
        [
          { question_id: "Q1", question: "Agree?", options: ["Agree", "Disagree"], ordinals: [1, 2], population: "overall", counts: { Agree: 3, Disagree: 1 } },
          { question_id: "Q1", population: "sex=Female", counts: { Agree: 1, Disagree: 1 } },
        ],
        null,
        2,
      ),
    );
    const s = await loadCustom({ data: json });
    checkHuman(s, "Q1", "overall", [0.75, 0.25], 4);
    checkHuman(s, "Q1", "sex=Female", [0.5, 0.5], 2);
    assert.equal(s.defaultMetric, "wasserstein");

    const semi = write(
      "survey.csv",
      lines("question_id;question;options;population;option;share", "Q1;Agree, or not?;Agree|Disagree;overall;Agree;0,25", "Q1;;;overall;Disagree;0,75"),
    );
    const t = await loadCustom({ data: semi });
    assert.equal(t.questions[0]!.text, "Agree, or not?");
    checkHuman(t, "Q1", "overall", [0.25, 0.75], null);
  });
});

// -------------------------------------------------------------------------------------------------

/** The six respondents of docs/custom-surveys.md (also examples/custom/neighbourhood.csv). */
const SIX = lines(
  "respondent_id,region,age_group,weight,question_id,question,options,ordinals,answer",
  "r1,North,18-39,1.5,TRANSIT,How satisfied are you with public transport in your town?,Satisfied | Neutral | Dissatisfied | Don't know,1 | 2 | 3,Satisfied",
  "r1,North,18-39,1.5,LIBRARY,Should the town build a new library?,Yes | No,,Yes",
  "r2,North,40+,1.0,TRANSIT,,,,Neutral",
  "r2,North,40+,1.0,LIBRARY,,,,Yes",
  "r3,North,18-39,0.5,TRANSIT,,,,Don't know",
  "r3,North,18-39,0.5,LIBRARY,,,,No",
  "r4,South,40+,2.0,TRANSIT,,,,Dissatisfied",
  "r4,South,40+,2.0,LIBRARY,,,,No",
  "r5,South,18-39,1.0,TRANSIT,,,,Satisfied",
  "r5,South,18-39,1.0,LIBRARY,,,,",
  "r6,South,,1.0,TRANSIT,,,,Neutral",
  "r6,South,,1.0,LIBRARY,,,,Yes",
);

/** The distributions worked out by hand in docs/custom-surveys.md. */
function checkSix(s: CustomSuite): void {
  assert.equal(s.form, "individual");
  assert.equal(s.weighted, true);
  assert.equal(s.respondents, 6);
  assert.equal(s.reference, "overall");
  assert.equal(s.defaultMetric, "tv"); // LIBRARY has no ordinals
  assert.deepEqual(s.populations.map((p) => p.id), ["overall", "region=North", "region=South", "age_group=18-39", "age_group=40+"]);
  // TRANSIT: weights Satisfied 1.5+1.0, Neutral 1.0+1.0, Dissatisfied 2.0, Don't know 0.5 (r3, a refusal)
  checkHuman(s, "TRANSIT", "overall", [2.5 / 6.5, 2 / 6.5, 2 / 6.5], 5, [2.5 / 7, 2 / 7, 2 / 7, 0.5 / 7]);
  checkHuman(s, "TRANSIT", "region=North", [0.6, 0.4, 0], 2, [0.5, 1 / 3, 0, 0.5 / 3]);
  checkHuman(s, "TRANSIT", "region=South", [0.25, 0.25, 0.5], 3);
  checkHuman(s, "TRANSIT", "age_group=18-39", [1, 0, 0], 2);
  checkHuman(s, "TRANSIT", "age_group=40+", [0, 1 / 3, 2 / 3], 2);
  // LIBRARY: r5 left it empty (skipped); r6 has no age group (counts in overall and South only)
  checkHuman(s, "LIBRARY", "overall", [3.5 / 6, 2.5 / 6], 5);
  checkHuman(s, "LIBRARY", "region=North", [2.5 / 3, 0.5 / 3], 3);
  checkHuman(s, "LIBRARY", "region=South", [1 / 3, 2 / 3], 2);
  checkHuman(s, "LIBRARY", "age_group=18-39", [0.75, 0.25], 2);
  checkHuman(s, "LIBRARY", "age_group=40+", [1 / 3, 2 / 3], 2);
  assert.equal(s.warnings.length, 1);
  assert.match(s.warnings[0]!, /line 11: 1 row has an empty answer/);
}

describe("individual form", () => {
  it("CSV with weights: overall + one population per demographic value, weighted shares, unweighted n", async () => {
    checkSix(await loadCustom({ data: write("six.csv", SIX) }));
  });

  it("without weights, shares are respondent counts", async () => {
    const unweighted = SIX.split("\n")
      .map((l) => l.split(",").filter((_, i) => i !== 3).join(","))
      .join("\n");
    const s = await loadCustom({ data: write("six.csv", unweighted) });
    assert.equal(s.weighted, false);
    checkHuman(s, "TRANSIT", "overall", [2 / 5, 2 / 5, 1 / 5], 5, [2 / 6, 2 / 6, 1 / 6, 1 / 6]);
    checkHuman(s, "LIBRARY", "region=North", [2 / 3, 1 / 3], 3);
  });

  it("JSONL, in a folder with questions.csv; numbers as answers and demographic values; a knowledge question without data", async () => {
    const dir = writeFiles({
      "questions.csv": lines(
        "question_id,question,options,ordinals,refusal,correct",
        "SCALE,How happy are you (1-4)?,1 | 2 | 3 | 4 | 9,1 | 2 | 3 | 4,9,",
        "CAPITAL,What is the capital of the country in this test?,North City | South City,,,South City",
      ),
      "responses.jsonl": lines(
        '{"respondent_id": 1, "question_id": "SCALE", "answer": 4, "cohort": 2020, "urban": true}',
        '{"respondent_id": 2, "question_id": "SCALE", "answer": "3", "cohort": 2020, "urban": false}',
        '{"respondent_id": 3, "question_id": "SCALE", "answer": 9, "cohort": 2021, "urban": null}',
        '{"respondent_id": 4, "question_id": "SCALE", "answer": "4", "cohort": 2021, "urban": false}',
      ),
    });
    const s = await loadCustom({ data: dir });
    assert.equal(s.form, "individual");
    assert.equal(s.weighted, false);
    assert.equal(s.title, `${path.basename(dir)} (custom survey)`);
    assert.deepEqual(s.files, [path.join(dir, "questions.csv"), path.join(dir, "responses.jsonl")]);
    assert.deepEqual(s.populations.map((p) => p.id), ["overall", "cohort=2020", "cohort=2021", "urban=true", "urban=false"]);
    assert.deepEqual(s.questions[0]!.refusal, [false, false, false, false, true]);
    checkHuman(s, "SCALE", "overall", [0, 0, 1 / 3, 2 / 3], 3, [0, 0, 0.25, 0.5, 0.25]);
    checkHuman(s, "SCALE", "cohort=2021", [0, 0, 0, 1], 1);
    checkHuman(s, "SCALE", "urban=false", [0, 0, 0.5, 0.5], 2);
    assert.equal(s.questions[1]!.correct, 1);
    assert.equal(s.human("CAPITAL", "overall"), undefined);
    assert.equal(s.defaultMetric, "wasserstein");
    const h = createHash("sha256");
    for (const f of ["questions.csv", "responses.jsonl"]) h.update(`${f}\t${createHash("sha256").update(readFileSync(path.join(dir, f))).digest("hex")}\n`);
    assert.equal(s.fingerprint, h.digest("hex"));
  });
});

describe("knowledge questions", () => {
  it("a file of questions with a correct option needs no population data", async () => {
    const s = await loadCustom({
      data: write(
        "quiz.csv",
        lines("question_id,question,options,correct", "K1,What is 2 + 2?,3 | 4 | 5 | Don't know,4", 'K2,"Which is a prime, 9 or 7?",9 | 7,7'),
      ),
    });
    assert.equal(s.form, "questions");
    assert.deepEqual(s.populations, []);
    assert.equal(s.reference, null);
    assert.deepEqual(s.questions.map((q) => [q.id, q.correct, q.refusal]), [
      ["K1", 1, [false, false, false, true]],
      ["K2", 1, [false, false]],
    ]);
  });

  it("mixed with opinion questions in one aggregated JSONL file, with datasets", async () => {
    const s = await loadCustom({
      data: write(
        "mixed.jsonl",
        lines(
          '{"question_id": "K1", "question": "Capital?", "options": ["A", "B"], "correct": "B", "dataset": "knowledge"}',
          '{"question_id": "V1", "question": "Agree?", "options": ["Agree", "Disagree"], "dataset": "values", "population": "overall", "counts": {"Agree": 2, "Disagree": 2}}',
          '{"question_id": "K1", "population": "overall", "counts": {"A": 1, "B": 3}}',
        ),
      ),
    });
    assert.deepEqual(s.datasets, ["knowledge", "values"]);
    assert.equal(s.questions[0]!.correct, 1);
    assert.equal(s.questions[1]!.correct, undefined);
    checkHuman(s, "K1", "overall", [0.25, 0.75], 4);
  });
});

describe("the examples", () => {
  it("every file under examples/custom loads; neighbourhood.csv is the worked example", async () => {
    const ex = path.join(REPO, "examples/custom");
    for (const f of ["town-aggregated.csv", "values-shares.jsonl", "town-quiz.csv", "library-survey"]) {
      const s = await loadCustom({ data: path.join(ex, f) });
      assert.ok(s.questions.length > 0, f);
      assert.deepEqual(s.warnings, [], f);
    }
    checkSix(await loadCustom({ data: path.join(ex, "neighbourhood.csv") }));
  });
});

// -------------------------------------------------------------------------------------------------

const IND_HEAD = "respondent_id,region,weight,question_id,question,options,answer";

describe("validation: one error naming file, line and field", () => {
  it("a count that is not a number", async () => {
    const data = write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace("overall,Less,1", "overall,Less,twelve"));
    await failsAt(data, "survey.csv", 4, "count", /"twelve" is not a number/);
  });

  it("counts that are not whole numbers, or negative", async () => {
    await failsAt(write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace("overall,Less,1", "overall,Less,1.5")), "survey.csv", 4, "count", /1\.5 is not a count/);
    await failsAt(write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace("overall,Less,1", "overall,Less,-1")), "survey.csv", 4, "count", /-1 is not a count/);
  });

  it("line numbers count the header and line breaks inside quoted cells", async () => {
    // NOISE's text spans lines 8-9, so the row after it is line 10
    const data = write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace("NOISE,,,,region=North,Yes,1", "NOISE,,,,region=North,Maybe,1"));
    await failsAt(data, "survey.csv", 10, "option", /option "Maybe" is not among the options of NOISE \("Yes", "No, not at all", "Don't know"\)/);
    // an error in the record that spans lines 8-9 names the line it starts on
    const onIt = write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace('region=North,"No, not at all",3', "region=North,Never,3"));
    await failsAt(onIt, "survey.csv", 8, "option", /option "Never" is not among the options of NOISE/);
  });

  it("an answer that is not an option", async () => {
    const data = write("survey.csv", lines(IND_HEAD, "a,N,1,Q1,Q1?,Yes | No,Yes", "a,N,1,Q2,Q2?,Yes | No,No", "b,S,1,Q2,,,Maybe"));
    await failsAt(data, "survey.csv", 4, "answer", /option "Maybe" is not among the options of Q2 \(Yes, No\)/);
  });

  it("duplicate rows: aggregated CSV, aggregated JSONL, individual", async () => {
    await failsAt(write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace("region=North,Less,1", "region=North,More,1")), "survey.csv", 7, "option", /duplicate row: question PARKS, population region=North, option "More" is already on line 6/);
    await failsAt(
      write(
        "survey.jsonl",
        lines(
          '{"question_id": "Q", "question": "?", "options": ["a", "b"], "population": "overall", "counts": {"a": 1}}',
          '{"question_id": "Q", "population": "Overall", "counts": {"b": 1}}',
        ),
      ),
      "survey.jsonl",
      2,
      "population",
      /duplicate: question Q, population overall is already given on line 1/,
    );
    await failsAt(write("survey.csv", lines(IND_HEAD, "a,N,1,Q1,Q1?,Yes | No,Yes", "b,N,1,Q1,,,No", "a,N,1,Q1,,,No")), "survey.csv", 4, "answer", /respondent a already answered question Q1 on line 2/);
  });

  it("shares that do not sum to 1, and percentages", async () => {
    const head = "question_id,question,options,population,option,share";
    await failsAt(write("survey.csv", lines(head, "Q,?,a | b | c,overall,a,0.5", "Q,,,overall,b,0.3", "Q,,,overall,c,0.1")), "survey.csv", 2, "share", /shares of question Q for overall \(lines 2, 3, 4\) sum to 0\.9, not 1/);
    await failsAt(write("survey.csv", lines(head, "Q,?,a | b,overall,a,45", "Q,,,overall,b,55")), "survey.csv", 2, "share", /share 45 is not between 0 and 1/);
    await failsAt(
      write("survey.jsonl", lines('{"question_id": "Q", "question": "?", "options": ["a", "b"], "population": "overall", "shares": {"a": 0.2, "b": 0.2}}')),
      "survey.jsonl",
      1,
      "shares",
      /sum to 0\.4, not 1/,
    );
  });

  it("a question with no population data and no correct answer", async () => {
    const data = write(
      "survey.csv",
      lines("question_id,question,options,population,option,count", "Q1,?,a | b,overall,a,1", "Q2,Alone?,a | b,,,", "Q1,,,overall,b,1"),
    );
    await failsAt(data, "survey.csv", 3, null, /question Q2 has no population data and no correct answer/);
    await failsAt(write("quiz.csv", lines("question_id,question,options,correct", "K1,?,a | b,a", "K2,?,a | b,")), "quiz.csv", 3, null, /question K2 has no population data and no correct answer/);
  });

  it("an ordinal count that does not match the non-refusal options", async () => {
    const data = write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace("1 | 2 | 3,overall", "1 | 2 | 3 | 4,overall"));
    await failsAt(data, "survey.csv", 2, "ordinals", /question PARKS has 4 ordinals for 3 non-refusal options \(More, About the same, Less; refusal: Refused\)/);
    await failsAt(
      write("survey.jsonl", lines('{"question_id": "Q", "question": "?", "options": ["a", "b", "c"], "refusal": ["c"], "ordinals": [1, 2, 3], "population": "overall", "counts": {"a": 1}}')),
      "survey.jsonl",
      1,
      "ordinals",
      /3 ordinals for 2 non-refusal options \(a, b; refusal: c\)/,
    );
  });

  it("question fields that disagree between rows", async () => {
    const data = write("survey.csv", AGG_CSV.replace("[2; 1]", "").replace("PARKS,,,,overall,Less,1", "PARKS,,More | Less,,overall,Less,1"));
    await failsAt(data, "survey.csv", 4, "options", /question PARKS has options \(More, Less\) here but \(More, About the same, Less, Refused\) on line 2/);
  });

  it("refusal and correct options that are not options", async () => {
    await failsAt(write("quiz.csv", lines("question_id,question,options,correct", "K1,?,a | b,c")), "quiz.csv", 2, "correct", /"c" is not among the options of K1 \(a, b\)/);
    await failsAt(write("quiz.csv", lines("question_id,question,options,refusal,correct", "K1,?,a | b | DK,Dont know,a")), "quiz.csv", 2, "refusal", /"Dont know" is not among the options of K1/);
  });

  it("a JSONL field of the wrong type (zod), and a line that is not JSON", async () => {
    await failsAt(
      write("survey.jsonl", lines('{"question_id": "Q", "question": "?", "options": ["a", "b"]}', '{"question_id": "Q", "population": "overall", "counts": {"a": "twelve"}}')),
      "survey.jsonl",
      2,
      "counts.a",
      /expected a number, got "twelve"/,
    );
    await failsAt(write("survey.jsonl", lines('{"question_id": "Q", "question": "?", "options": "a | b", "correct": "a"}')), "survey.jsonl", 1, "options", /expected a list, got "a \| b"/);
    const e = await rejectsCivitas(loadCustom({ data: write("survey.jsonl", lines('{"question_id": "Q"}', '{"question_id": "Q",}')) }), "input");
    assert.match(e.message, /survey\.jsonl line 2: invalid JSON/);
  });

  it("a .json array names the line of the bad element", async () => {
    const text = '[\n  {"question_id": "Q", "question": "?", "options": ["a", "b"], "correct": "a"},\n  {"question_id": "R",\n   "question": 5}\n]\n';
    await failsAt(write("survey.json", text), "survey.json", 3, "question", /expected a string, got 5/);
    const e = await rejectsCivitas(loadCustom({ data: write("survey.json", text.replace('"R",', '"R" "x",')) }), "input");
    assert.match(e.message, /survey\.json line 3 \(element 2\): invalid JSON/);
  });

  it("weights: missing on a row, not positive, or different for the same respondent; demographics that change", async () => {
    await failsAt(write("survey.csv", lines(IND_HEAD, "a,N,1,Q1,Q1?,Yes | No,Yes", "b,N,,Q1,,,No")), "survey.csv", 3, "weight", /empty; when any row has a weight, every row needs one/);
    await failsAt(write("survey.csv", lines(IND_HEAD, "a,N,0,Q1,Q1?,Yes | No,Yes")), "survey.csv", 2, "weight", /0 is not a positive number/);
    await failsAt(write("survey.csv", lines(IND_HEAD, "a,N,1,Q1,Q1?,Yes | No,Yes", "a,N,2,Q2,Q2?,Yes | No,No")), "survey.csv", 3, "weight", /respondent a has weight 2 here but 1 on line 2/);
    await failsAt(write("survey.csv", lines(IND_HEAD, "a,N,1,Q1,Q1?,Yes | No,Yes", "a,S,1,Q2,Q2?,Yes | No,No")), "survey.csv", 3, "region", /respondent a has "S" here but "N" on line 2/);
  });

  it("an ambiguous or unknown layout lists both forms", async () => {
    const amb = await rejectsCivitas(loadCustom({ data: write("survey.csv", lines("respondent_id,question_id,answer,population", "a,Q,Yes,overall")) }), "input");
    assert.match(amb.message, /cannot tell the form of the survey: it has columns of both forms, "respondent_id", "answer" \(individual responses\) and "population" \(aggregated\)/);
    assert.match(amb.hint!, /aggregated form .*question_id.*population, option, and count or share; individual form .*respondent_id, question_id, answer/);
    const unk = await rejectsCivitas(loadCustom({ data: write("survey.jsonl", lines('{"question_id": "Q", "group": "x", "votes": 3}')) }), "input");
    assert.match(unk.message, /survey\.jsonl: cannot tell the form of the survey from its fields "question_id", "group", "votes"/);
    assert.match(unk.hint!, /aggregated form .*"counts".*individual form .*"respondent_id"/);
  });

  it("names the CLI cannot take, and unknown columns in the aggregated form", async () => {
    await failsAt(write("survey.csv", lines("question_id,question,options,population,option,count", "Q,?,a | b,age group=18-29,a,1")), "survey.csv", 2, "population", /attribute "age group" of "age group=18-29" must be letters, digits and _/);
    const e = await rejectsCivitas(loadCustom({ data: write("survey.csv", lines("respondent_id,age group,question_id,question,options,answer", "a,18-29,Q,?,a | b,a")) }), "input");
    assert.match(e.message, /survey\.csv line 1, column "age group": a demographic column name must be letters, digits and _/);
    const f = await rejectsCivitas(loadCustom({ data: write("survey.csv", lines("question_id,question,options,population,option,count,region", "Q,?,a | b,overall,a,1,N")) }), "input");
    assert.match(f.message, /survey\.csv line 1: column "region" is not a field of the aggregated form/);
  });

  it("a CSV row with too few cells, a file that is not UTF-8, an empty file", async () => {
    await failsAt(write("survey.csv", lines("question_id,question,options,correct", "K1,?,a | b,a", "K2,?")), "survey.csv", 3, null, /2 cells, but the header has 4 columns/);
    const latin1 = Buffer.from("question_id,question,options,correct\nK1,Caf\xe9?,a | b,a\n", "latin1");
    assert.match((await rejectsCivitas(loadCustom({ data: write("survey.csv", latin1) }), "input")).message, /survey\.csv is not UTF-8 text/);
    assert.match((await rejectsCivitas(loadCustom({ data: write("survey.csv", "") }), "input")).message, /survey\.csv is empty/);
  });

  it("a folder: a question the responses use but the questions file does not define", async () => {
    const dir = writeFiles({
      "questions.csv": lines("question_id,question,options", "Q1,?,a | b"),
      "responses.csv": lines("respondent_id,question_id,answer", "r1,Q1,a", "r1,Q01,a"),
    });
    await failsAt(dir, "responses.csv", 3, "question_id", /question Q01 is not in .*questions\.csv/);
  });

  it("usage errors: no --data, a missing path, an unknown file type", async () => {
    await rejectsCivitas(loadCustom({}), "usage");
    await rejectsCivitas(loadCustom({ data: path.join(root, "nope.csv") }), "usage");
    await rejectsCivitas(loadCustom({ data: write("survey.xlsx", "x") }), "usage");
  });
});
