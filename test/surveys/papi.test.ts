/**
 * PAPI (Zhu et al. 2024) on the shared data: the loader, the paper's prompt and persona, a real
 * person's Big Five domain scores from their raw answers and the key (hand-computed), the reverse
 * keying, the individual-level scores against an independent computation, bad files, the
 * download, and `civitas eval papi` end to end.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { planEval } from "../../src/runs/stages/plan.js";
import { papiScores, scorePerson } from "../../src/runs/papi.js";
import { domainScores, keyed, loadPapi, PAPI_FILES, PAPI_URL_ENV, papiPersona, type PapiSuite } from "../../src/surveys/papi.js";
import { renderPrompt, parseVariant } from "../../src/surveys/index.js";
import { parseModelSpec } from "../../src/models/index.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { runCli } from "../helpers/cli.js";

const DIR = fileURLToPath(new URL("../../../shared/data/papi", import.meta.url));
const MODEL = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

type RawPerson = Record<string, number | string>;
let raw: RawPerson[];
let split: { train_index: number[]; test_index: number[] };
let suite: PapiSuite;
let tmp: string;
before(async () => {
  raw = JSON.parse(await readFile(path.join(DIR, "Test-set.json"), "utf8")) as RawPerson[];
  split = JSON.parse(await readFile(path.join(DIR, "mpi_300_split.json"), "utf8")) as typeof split;
  suite = await loadPapi({ data: DIR });
  tmp = await mkdtemp(path.join(tmpdir(), "civitas-papi-"));
});
after(async () => rm(tmp, { recursive: true, force: true }));

describe("papi on the shared data", () => {
  it("300 items as questions, the people as `overall` and one population per person", () => {
    assert.equal(suite.questions.length, 300);
    assert.equal(suite.populations.length, 301);
    assert.deepEqual(suite.populations[0], { id: "overall", attribute: null, value: "overall" });
    assert.deepEqual(suite.populations[1], { id: "person=172481", attribute: "person", value: "172481" });
    assert.equal(suite.reference, "overall");
    assert.equal(suite.papi.train.length, 120);
    assert.equal(suite.papi.test.length, 180);
    const q = suite.questions[0]!;
    assert.equal(q.id, "i1");
    assert.equal(q.text, "Worry about things.");
    assert.deepEqual(q.options, ["Very Accurate", "Moderately Accurate", "Neither Accurate Nor Inaccurate", "Moderately Inaccurate", "Very Inaccurate"]);
    assert.deepEqual(q.ordinals, [5, 4, 3, 2, 1]);
  });

  it("the population level: each item's answers of the people who gave one, in the options' order (5 first)", () => {
    for (const n of [1, 37, 300]) {
      const counts = [5, 4, 3, 2, 1].map((v) => raw.filter((p) => p[`i${n}`] === v).length);
      const answered = counts.reduce((a, b) => a + b, 0);
      const h = suite.human(`i${n}`, "overall")!;
      assert.equal(h.n, answered);
      h.probs.forEach((p, k) => assert.ok(Math.abs(p - counts[k]! / answered) < 1e-15));
    }
    // i1: 46 of 300 people answered 5 (counted from the raw file above; 0.1533 is 46/300).
    assert.ok(Math.abs(suite.human("i1", "overall")!.probs[0]! - 46 / 300) < 1e-15);
  });

  it("a person: their one answer, on the held-out items only (the profile items are what the model is told)", () => {
    const first = raw[0]!;
    assert.equal(first.case, 172481);
    assert.equal(split.train_index.includes(1), true);
    assert.equal(suite.human("i1", "person=172481"), undefined, "i1 is a profile item");
    const n = split.test_index[0]!; // 9
    assert.equal(first[`i${n}`], 3);
    assert.deepEqual(suite.human(`i${n}`, "person=172481")!.probs, [0, 0, 1, 0, 0]);
    // An unanswered item (0) has no distribution.
    const missing = raw.flatMap((p) => split.test_index.filter((i) => p[`i${i}`] === 0).map((i) => [p.case, i] as const))[0]!;
    assert.equal(suite.human(`i${missing[1]}`, `person=${missing[0]}`), undefined);
  });

  it("asks with the paper's TEMPLATE (main.py): the item lower-cased in 'You ...', options (A). to (E).", () => {
    const r = renderPrompt(suite.questions[0]!, parseVariant("standard", suite.template!));
    assert.equal(
      r.text,
      'Given a statement of you: "You worry about things.."\n' +
        "Please choose from the following options to identify how accurately this statement describes you.\n" +
        "Options:\n(A). Very Accurate\n(B). Moderately Accurate\n(C). Neither Accurate Nor Inaccurate\n(D). Moderately Inaccurate\n(E). Very Inaccurate\nAnswer:",
    );
  });

  it("a person's persona is the paper's profile prompt (process_pas), and a steered run asks it before the item", async () => {
    const text = papiPersona(suite.papi, suite.papi.people[0]!);
    // The first person's first profile items, i1 = 3, i2 = 4, i3 = 4, as PAPI/personality_prompt.json of the repository quotes them.
    assert.ok(text.startsWith("Here are some of your behaviors and your level of recognition towards them;Worry about things.:Neither Accurate Nor Inaccurate;Make friends easily.:Moderately Accurate;Have a vivid imagination.:Moderately Accurate;"), text.slice(0, 200));
    assert.equal(text.split(";").length, 1 + 120);
    const model = await parseModelSpec(`llama:${MODEL}`, { threads: 1 });
    const plan = planEval({ suite, questions: suite.questions, limit: 1, populations: [suite.populations[1]!], model, persona: true, minCoverage: 0, seed: 0, command: "test" });
    const steered = plan.items.find((i) => i.persona.id === "person=172481")!;
    assert.equal(steered.question.id, "i9");
    assert.ok(steered.rendered.text.startsWith(`${text}\n\nGiven a statement of you: "You `));
  });

  it("keys answers as process_answers does: 6 - answer for a reversed item", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((a) => keyed(a, -1)), [5, 4, 3, 2, 1]);
    assert.deepEqual([1, 2, 3, 4, 5].map((a) => keyed(a, 1)), [1, 2, 3, 4, 5]);
    // The IPIP-NEO key of the Anxiety facet: five items positively keyed, the five calm ones reversed.
    const anxiety = suite.papi.items.filter((it) => it.facet === "Anxiety");
    assert.deepEqual(anxiety.filter((it) => it.key === -1).map((it) => it.number), [202, 218, 237, 258, 277]);
    assert.ok(anxiety.filter((it) => it.key === -1).every((it) => /^(Am not easily|Am relaxed|Don't worry|Adapt easily)/u.test(it.text)), anxiety.map((it) => it.text).join(" | "));
  });

  it("person 172481's Big Five domain scores from their raw answers and the key (hand-computed)", () => {
    const p = suite.papi.people[0]!;
    // Anxiety (N1), by hand: items 1, 31, 61, 91, 184 (+) answered 3, 3, 2, 3, 3 = 14; items 202, 218,
    // 237, 258 (-) answered 4 each -> 2 each = 8; item 277 (-) answered 3 -> 3. (14 + 8 + 3) / 10 = 2.5.
    const anxiety = suite.papi.items.filter((it) => it.facet === "Anxiety").map((it) => it.number);
    assert.equal(domainScores(suite.papi.items, p.answers, anxiety).N, 2.5);
    // Trust (A1): items 4, 34, 64, 163, 187, 205 (+) answered 3, 3, 4, 3, 3, 3 = 19; items 94 (-) answered 4 -> 2,
    // 239, 261, 279 (-) answered 3 -> 3 each = 9. (19 + 2 + 9) / 10 = 3.
    const trust = suite.papi.items.filter((it) => it.facet === "Trust").map((it) => it.number);
    assert.equal(domainScores(suite.papi.items, p.answers, trust).A, 3);
    // All 300 items (60 a domain, none unanswered), summed keyed answers from the raw files by a short
    // Python script (csv + json, 6 - a where key is -1): O 172, C 189, E 184, A 186, N 172.
    const all = domainScores(suite.papi.items, p.answers);
    const expected = { O: 172 / 60, C: 189 / 60, E: 184 / 60, A: 186 / 60, N: 172 / 60 };
    // Sums of 60 small integers divided once: exact to the last bit or two.
    for (const d of ["O", "C", "E", "A", "N"] as const) assert.ok(Math.abs(all[d] - expected[d]) < 1e-12, `${d}: ${all[d]} vs ${expected[d]}`);
  });

  it("the individual-level scores of a model that always answers 'Very Accurate' equal a direct computation", () => {
    const p = suite.papi.people[0]!;
    const s = scorePerson(suite.papi, p.case, () => [1, 0, 0, 0, 0])!;
    const held = split.test_index.filter((n) => (raw[0]![`i${n}`] as number) > 0);
    assert.equal(s.n, held.length);
    const dist = held.reduce((a, n) => a + (5 - (raw[0]![`i${n}`] as number)), 0) / held.length;
    assert.ok(Math.abs(s.item_distance - dist) < 1e-12);
    assert.ok(Math.abs(s.item_distance_mode - dist) < 1e-12);
    // Model domain scores: 5 on positively keyed items, 1 on reversed ones; the person's keyed mean on the same items.
    const items = new Map(suite.papi.items.map((it) => [it.number, it]));
    let err = 0;
    for (const d of ["O", "C", "E", "A", "N"] as const) {
      const its = held.filter((n) => items.get(n)!.domain === d);
      const model = its.reduce((a, n) => a + (items.get(n)!.key === 1 ? 5 : 1), 0) / its.length;
      const person = its.reduce((a, n) => a + (items.get(n)!.key === 1 ? (raw[0]![`i${n}`] as number) : 6 - (raw[0]![`i${n}`] as number)), 0) / its.length;
      assert.ok(Math.abs(s.model_domains[d] - model) < 1e-12);
      assert.ok(Math.abs(s.person_domains[d] - person) < 1e-12);
      err += Math.abs(model - person) / 5;
    }
    assert.ok(Math.abs(s.domain_error - err) < 1e-12);
    // Uniform answers: E|U - a| = (|1-a| + ... + |5-a|) / 5, and domain scores of 3.
    const uni = held.reduce((a, n) => a + [1, 2, 3, 4, 5].reduce((x, v) => x + Math.abs(v - (raw[0]![`i${n}`] as number)), 0) / 5, 0) / held.length;
    assert.ok(Math.abs(s.uniform.item_distance - uni) < 1e-12);
  });
});

describe("papi: the individual level over persons", () => {
  it("steered answers scored against each person, unsteered ones beside them, summarised over persons", () => {
    const persons = suite.populations.slice(1, 4);
    const byCase = new Map(suite.papi.people.map((p) => [`person=${p.case}`, p]));
    // As its persona the model gives each person's own answer; unsteered it answers uniformly.
    const model = (q: { id: string }, persona: string) => {
      if (persona === "none") return [[0.2, 0.2, 0.2, 0.2, 0.2]];
      const a = byCase.get(persona)!.answers[Number(q.id.slice(1)) - 1]!;
      return [[5, 4, 3, 2, 1].map((v) => (v === a ? 1 : 0))];
    };
    const personas = new Map(persons.map((p) => [p.id, { id: p.id }]));
    const r = papiScores(suite, [suite.populations[0]!, ...persons], model, personas, 0, 200)!;
    assert.equal(r.persons, 3, "overall is not a person");
    assert.equal(r.steered, true);
    assert.equal(r.item_distance.mean, 0);
    assert.equal(r.domain_error.mean, 0);
    assert.deepEqual(r.item_distance.quantiles, { p10: 0, p25: 0, p50: 0, p75: 0, p90: 0 });
    // Unsteered = uniform answers: the uniform baseline, person by person.
    assert.ok(Math.abs(r.unsteered!.item_distance.mean - r.baselines.uniform.item_distance) < 1e-12);
    assert.ok(Math.abs(r.unsteered!.domain_error.mean - r.baselines.uniform.domain_error) < 1e-12);
    assert.deepEqual(r.people.map((p) => p.person), persons.map((p) => p.id));
    // Other people's answers predict a person better than uniform answers do (on these three people).
    assert.ok(r.baselines.population.item_distance < r.baselines.uniform.item_distance);
  });
});

describe("papi: bad files name the file and line", () => {
  async function copyWith(name: string, edit: (text: string) => string): Promise<string> {
    const dir = await mkdtemp(path.join(tmp, "bad-"));
    for (const f of PAPI_FILES) await copyFile(path.join(DIR, f.path), path.join(dir, f.path));
    const p = path.join(dir, name);
    await writeFile(p, edit(await readFile(p, "utf8")));
    return dir;
  }

  it("an item key that is neither 1 nor -1", async () => {
    const dir = await copyWith("mpi_300.csv", (t) => t.replace("3,Trust,Trust others.,A,1", "3,Trust,Trust others.,A,+"));
    const e = await rejectsCivitas(loadPapi({ data: dir }), "input");
    assert.match(e.message, /mpi_300\.csv line 5: key: "\+" is neither 1 nor -1/u);
  });

  it("an answer outside 0..5, at its line", async () => {
    const text = await readFile(path.join(DIR, "Test-set.json"), "utf8");
    const line = text.split("\n").findIndex((l) => l.includes('"i37":')) + 1;
    const dir = await copyWith("Test-set.json", (t) => t.replace(/"i37":\d/u, '"i37":7'));
    const e = await rejectsCivitas(loadPapi({ data: dir }), "input");
    assert.match(e.message, new RegExp(`Test-set\\.json line ${line}: case 172481: i37: expected an answer 0\\.\\.5`, "u"));
  });

  it("broken JSON, an item in both lists, a folder without the files", async () => {
    const dir = await copyWith("Test-set.json", (t) => t.replace('"sex":1,', '"sex":1,,'));
    assert.match((await rejectsCivitas(loadPapi({ data: dir }), "input")).message, /Test-set\.json line 4: not valid JSON/u);
    const dir2 = await copyWith("mpi_300_split.json", (t) => t.replace('"test_index": [9,', '"test_index": [1, 9,'));
    assert.match((await rejectsCivitas(loadPapi({ data: dir2 }), "input")).message, /mpi_300_split\.json: item 1 is listed 2 times/u);
    const empty = await mkdtemp(path.join(tmp, "empty-"));
    assert.match((await rejectsCivitas(loadPapi({ data: empty }), "input")).message, /no Test-set\.json in/u);
  });
});

describe("papi: downloaded from the pinned source and verified", () => {
  let server: Server;
  let url: string;
  let tamper = false;
  before(async () => {
    server = createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/u, "");
      readFile(path.join(DIR, rel)).then(
        (body) => {
          const out = tamper ? Buffer.concat([body, Buffer.from(" ")]) : body;
          res.writeHead(200, { "content-length": out.length });
          res.end(out);
        },
        () => {
          res.writeHead(404);
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("without --data: the three files into the cache, the same suite as the local folder", async () => {
    const cacheDir = path.join(tmp, "cache");
    const s = await loadPapi({ cacheDir, env: { [PAPI_URL_ENV]: url } });
    assert.equal(s.fingerprint, suite.fingerprint);
    assert.equal(s.location, path.join(cacheDir, "data", "papi"));
  });

  it("a file that does not match its pinned sha256 is refused", async () => {
    tamper = true;
    try {
      const cacheDir = path.join(tmp, "cache-bad");
      await mkdir(cacheDir, { recursive: true });
      const e = await rejectsCivitas(loadPapi({ cacheDir, env: { [PAPI_URL_ENV]: url } }), "network");
      assert.match(e.message, /sha256/iu);
    } finally {
      tamper = false;
    }
  });
});

describe("civitas suites / eval papi", () => {
  it("is listed with its licence", async () => {
    const show = await runCli(["suites", "show", "papi", "--data", DIR]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /300 questions · 301 populations · default metric wasserstein/u);
    assert.match(show.stdout, /licence: IPIP items: public domain .* states no licence/u);
  });

  it("is evaluated end to end on two persons (stories260K proves the machinery, not a result)", async () => {
    const r = await runCli(["eval", "papi", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DIR, "--populations", "person=172481,person=205752", "--limit", "2", "--store", path.join(tmp, "e.duckdb"), "--progress", "none", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      run: string;
      populations: { population: string; n: number; mean: number }[];
      papi: { persons: number; steered: boolean; item_distance: { mean: number }; people: { person: string; n: number; item_distance: number }[] };
    };
    assert.deepEqual(j.populations.map((p) => [p.population, p.n]), [["person=172481", 2], ["person=205752", 2]]);
    assert.equal(j.papi.persons, 2);
    assert.equal(j.papi.steered, false);
    // The per-item distance is the Wasserstein distance on the 1-5 scale: 4 x (1 - alignment), per person.
    for (const p of j.papi.people) {
      const pop = j.populations.find((x) => x.population === p.person)!;
      assert.equal(p.n, 2);
      assert.ok(Math.abs(p.item_distance - 4 * (1 - pop.mean)) < 1e-9, `${p.item_distance} vs ${4 * (1 - pop.mean)}`);
    }
    // The stored result carries it into the report.
    const out = path.join(tmp, "papi.html");
    const rep = await runCli(["report", j.run, "--store", path.join(tmp, "e.duckdb"), "--out", out]);
    assert.equal(rep.code, 0, rep.stderr);
    assert.match(await readFile(out, "utf8"), /PAPI individual level \(Zhu et al\. 2024\): 2 persons/u);
  });
});
