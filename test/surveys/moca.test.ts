import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ambiguityClass } from "../../src/metrics/moca.js";
import { sha256File } from "../../src/surveys/download.js";
import { loadMoCa, MOCA_BASE_URL, MOCA_COMMIT, MOCA_FILES, MOCA_URL_ENV, resolveMoCaDatasets } from "../../src/surveys/moca.js";
import type { Suite } from "../../src/surveys/types.js";
import { rejectsCivitas } from "../helpers/errors.js";

const MOCA_DIR = fileURLToPath(new URL("../../../shared/data/moca", import.meta.url));
const MORAL = path.join(MOCA_DIR, MOCA_FILES.moral.path);
const CAUSAL = path.join(MOCA_DIR, MOCA_FILES.causal.path);

/** The stories of a real file, as the original code reads them (json.loads of each string). */
async function rawStories(file: string): Promise<Record<string, unknown>[]> {
  const outer = JSON.parse(await readFile(file, "utf8")) as string[];
  return outer.map((s) => JSON.parse(s) as Record<string, unknown>);
}

/** Everything a suite holds except where it was loaded from, as plain data. */
function content(s: Suite): unknown {
  const humans = s.questions.map((q) => s.human(q.id, "overall") ?? null);
  const { name, title, fingerprint, reference, defaultMetric, datasets, extraScores, citation, questions, populations } = s;
  return { name, title, fingerprint, reference, defaultMetric, datasets, extraScores, citation, questions, populations, humans };
}

const tmpDirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "civitas-moca-"));
  tmpDirs.push(d);
  return d;
}
after(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

let suite: Suite;
before(async () => {
  suite = await loadMoCa({ data: MOCA_DIR });
});

describe("loadMoCa on the shared data", () => {
  it("loads 62 moral then 144 causal stories with stable, unique ids", () => {
    const moral = suite.questions.filter((q) => q.dataset === "moral");
    const causal = suite.questions.filter((q) => q.dataset === "causal");
    assert.equal(moral.length, 62);
    assert.equal(causal.length, 144);
    assert.equal(suite.questions.length, 206);
    assert.deepEqual(
      suite.questions.map((q) => q.id),
      [...Array.from({ length: 62 }, (_, i) => `moral/${i}`), ...Array.from({ length: 144 }, (_, i) => `causal/${i}`)],
    );
    assert.equal(new Set(suite.questions.map((q) => q.id)).size, 206);
  });

  it("has the suite fields", () => {
    assert.equal(suite.name, "moca");
    assert.match(suite.title, /^MoCa \(Nie et al\. 2023\)/);
    assert.equal(suite.location, MOCA_DIR);
    assert.match(suite.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(suite.reference, null);
    assert.equal(suite.defaultMetric, "tv");
    assert.deepEqual(suite.datasets, ["moral", "causal"]);
    assert.deepEqual(suite.extraScores, ["moca"]);
    assert.match(suite.citation ?? "", /Nie.*MoCa.*NeurIPS 2023.*cicl-stanford\/moca @ 1b61a20/);
    assert.deepEqual(suite.populations, [{ id: "overall", attribute: null, value: "overall" }]);
  });

  it("every question is a nominal yes/no question: story, a space, the question", async () => {
    for (const q of suite.questions) {
      assert.deepEqual(q.options, ["Yes", "No"]);
      assert.deepEqual(q.refusal, [false, false]);
      assert.equal(q.ordinals, null);
    }
    const m0 = suite.questions[0]!;
    assert.equal(
      m0.text,
      "A high-speed train is about to hit a bus with 10 passengers. An employee of the train company could redirect " +
        "the train to a side track where a bus with 2 passengers is sitting. Should the employee redirect the train to the side track?",
    );
    assert.equal(m0.source, "moral_dataset_v1.json#0");
    const raw = await rawStories(CAUSAL);
    const c143 = suite.questions.find((q) => q.id === "causal/143")!;
    assert.equal(c143.text, `${raw[143]!.story as string} ${raw[143]!.question as string}`);
    assert.ok(c143.text.endsWith(" Did Ed cause the rock to fall off the side of the road?"));
  });

  it("the human distributions are answer_dist, with n = 25 votes", () => {
    const h = (id: string) => suite.human(id, "overall")!;
    assert.deepEqual(h("moral/0").probs, [0.64, 0.36]);
    assert.deepEqual(h("moral/3").probs, [0.52, 0.48]);
    assert.deepEqual(h("moral/61").probs, [0.72, 0.28]);
    // Upstream wrote 1 - p: the float noise is kept as is.
    assert.deepEqual(h("causal/0").probs, [0.92, 0.07999999999999996]);
    assert.deepEqual(h("causal/3").probs, [0.32, 0.6799999999999999]);
    assert.deepEqual(h("causal/143").probs, [0.24, 0.76]);
    assert.equal(h("causal/0").questionId, "causal/0");
    assert.equal(h("causal/0").population, "overall");
    for (const q of suite.questions) {
      const d = h(q.id);
      assert.equal(d.n, 25, q.id);
      assert.deepEqual(d.allProbs, d.probs);
      assert.ok(Math.abs(d.probs[0]! + d.probs[1]! - 1) < 1e-12);
    }
    assert.equal(suite.human("moral/0", "POLPARTY=Democrat"), undefined);
    assert.equal(suite.human("moral/62", "overall"), undefined);
  });

  it("the 0.6 rule on answer_dist gives exactly the files' is_ambiguous flags (29 moral, 46 causal)", async () => {
    for (const [ds, file, count] of [["moral", MORAL, 29], ["causal", CAUSAL, 46]] as const) {
      const raw = await rawStories(file);
      let ambiguous = 0;
      raw.forEach((r, i) => {
        const byRule = ambiguityClass(suite.human(`${ds}/${i}`, "overall")!.probs[0]!) === "ambiguous";
        assert.equal(byRule, r.is_ambiguous, `${ds}/${i}`);
        if (byRule) ambiguous++;
      });
      assert.equal(ambiguous, count);
    }
  });

  it("one file, or a dataset selection, loads one dataset; a clone's data/ folder is found", async () => {
    const moral = await loadMoCa({ data: MORAL });
    assert.deepEqual(moral.datasets, ["moral"]);
    assert.equal(moral.questions.length, 62);
    assert.equal(moral.location, MORAL);
    const selected = await loadMoCa({ data: MOCA_DIR, datasets: ["Moral"] });
    assert.equal(selected.fingerprint, moral.fingerprint);
    assert.notEqual(moral.fingerprint, suite.fingerprint);
    assert.deepEqual(selected.questions, moral.questions);

    const clone = await tempDir();
    await mkdir(path.join(clone, "data"));
    await copyFile(MORAL, path.join(clone, "data", MOCA_FILES.moral.path));
    await copyFile(CAUSAL, path.join(clone, "data", MOCA_FILES.causal.path));
    const fromClone = await loadMoCa({ data: clone });
    assert.equal(fromClone.location, path.join(clone, "data"));
    assert.deepEqual(content(fromClone), content(suite));
  });

  it("pins the files at the full commit hash", () => {
    assert.match(MOCA_COMMIT, /^1b61a20[0-9a-f]{33}$/);
    assert.equal(MOCA_BASE_URL, `https://raw.githubusercontent.com/cicl-stanford/moca/${MOCA_COMMIT}/data/`);
  });

  it("the shared copy matches the pinned sha256", async () => {
    assert.equal(await sha256File(MORAL), MOCA_FILES.moral.sha256);
    assert.equal(await sha256File(CAUSAL), MOCA_FILES.causal.sha256);
  });
});

describe("loadMoCa on bad input", () => {
  /** A folder with fresh copies of both files; returns [folder, moral file, causal file]. */
  async function copy(): Promise<[string, string, string]> {
    const dir = await tempDir();
    const m = path.join(dir, MOCA_FILES.moral.path);
    const c = path.join(dir, MOCA_FILES.causal.path);
    await copyFile(MORAL, m);
    await copyFile(CAUSAL, c);
    return [dir, m, c];
  }

  /** Rewrites story `i` of a file (an element of the outer array) with `edit`. */
  async function editStory(file: string, i: number, edit: (story: Record<string, unknown>) => unknown): Promise<void> {
    const outer = JSON.parse(await readFile(file, "utf8")) as string[];
    outer[i] = JSON.stringify(edit(JSON.parse(outer[i]!) as Record<string, unknown>));
    await writeFile(file, `[\n${outer.map((s) => `  ${JSON.stringify(s)}`).join(",\n")}\n]`);
  }

  it("a truncated file: one input error naming the file", async () => {
    const [dir, , causal] = await copy();
    await truncate(causal, 100_000);
    const e = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.ok(e.message.startsWith(`${causal}: invalid JSON at line `), e.message);
    assert.match(e.hint ?? "", /truncated/);
  });

  it("a story whose JSON string is broken: names the file, its line and the story", async () => {
    const [dir, moral] = await copy();
    const outer = JSON.parse(await readFile(moral, "utf8")) as string[];
    outer[5] = outer[5]!.slice(0, 200);
    await writeFile(moral, `[\n${outer.map((s) => `  ${JSON.stringify(s)}`).join(",\n")}\n]`);
    const e = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.ok(e.message.startsWith(`${moral} line 7 (story 5, moral/5): the story's JSON string is not valid JSON`), e.message);
  });

  it("a missing or mistyped field: names the field and the value", async () => {
    const [dir, , causal] = await copy();
    await editStory(causal, 10, (s) => ({ ...s, answer_dist: [0.6, "0.4"] }));
    const e = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.ok(e.message.startsWith(`${causal} line 12 (story 10, causal/10): field "answer_dist[1]": `), e.message);
    assert.match(e.message, /\(value: "0\.4"\)$/);

    await editStory(causal, 10, (s) => {
      const { question: _q, ...rest } = s;
      return { ...rest, answer_dist: [0.6, 0.4] };
    });
    const e2 = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.match(e2.message, /\(story 10, causal\/10\): field "question": .*\(value: missing\)$/);

    await editStory(causal, 10, (s) => ({ ...s, question: "Q?", individual_votes: ["yes"] }));
    const e3 = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.match(e3.message, /field "individual_votes\[0\]": expected true or false \(true = yes\) \(value: "yes"\)$/);
  });

  it("answer_dist that disagrees with the votes, or does not sum to 1, is an error", async () => {
    const [dir, moral] = await copy();
    await editStory(moral, 0, (s) => ({ ...s, answer_dist: [0.6, 0.4] }));
    const e = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.match(e.message, /line 2 \(story 0, moral\/0\): field "individual_votes" has 16 yes of 25 votes \(0\.6400\), but answer_dist gives 0\.6$/);

    await editStory(moral, 0, (s) => ({ ...s, answer_dist: [0.64, 0.46] }));
    const e2 = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.match(e2.message, /field "answer_dist": \[0\.64,0\.46\] does not sum to 1$/);
  });

  it("stories without individual_votes load with n = null", async () => {
    const [dir, moral] = await copy();
    await editStory(moral, 2, (s) => {
      const { individual_votes: _v, ...rest } = s;
      return rest;
    });
    const s = await loadMoCa({ data: dir });
    assert.equal(s.human("moral/2", "overall")!.n, null);
    assert.deepEqual(s.human("moral/2", "overall")!.probs, [0.44, 0.56]);
    assert.notEqual(s.fingerprint, suite.fingerprint);
  });

  it("not an array, or empty: names the file", async () => {
    const [dir, moral] = await copy();
    await writeFile(moral, "{}");
    const e = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.equal(e.message, `${moral}: expected a JSON array of stories (one JSON string per story), got object`);
    await writeFile(moral, "[]");
    const e2 = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.equal(e2.message, `${moral}: the file holds no stories`);
  });

  it("a missing file, a missing path, an unknown file name or dataset", async () => {
    const [dir, moral] = await copy();
    await rm(moral);
    const e = await rejectsCivitas(loadMoCa({ data: dir }), "input");
    assert.equal(e.message, `missing MoCa file ${moral}`);
    assert.match(e.hint ?? "", /pass the path of its file/);
    assert.equal((await loadMoCa({ data: dir, datasets: ["causal"] })).questions.length, 144);

    await rejectsCivitas(loadMoCa({ data: path.join(dir, "nope") }), "usage");
    const other = path.join(dir, "stories.json");
    await copyFile(CAUSAL, other);
    const e2 = await rejectsCivitas(loadMoCa({ data: other }), "usage");
    assert.match(e2.message, /cannot tell which MoCa dataset .*stories\.json is/);
    await rejectsCivitas(loadMoCa({ data: MORAL, datasets: ["causal"] }), "usage");
    assert.throws(() => resolveMoCaDatasets(["ethics"]), /unknown MoCa dataset "ethics"/);
    assert.deepEqual(resolveMoCaDatasets(["causal", "moral"]), ["moral", "causal"]);
  });
});

describe("loadMoCa through the download cache", () => {
  let server: Server;
  let url: string;
  const requests: string[] = [];
  let tamper = false;
  before(async () => {
    server = createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
      requests.push(rel);
      readFile(path.join(MOCA_DIR, rel)).then(
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
  afterEach(() => {
    delete process.env[MOCA_URL_ENV];
    tamper = false;
  });

  it("downloads the two pinned files, verifies them, loads the same suite; a second load asks nothing", async () => {
    process.env[MOCA_URL_ENV] = url;
    const cache = await tempDir();
    const s = await loadMoCa({ cacheDir: cache });
    assert.deepEqual([...requests].sort(), ["causal_dataset_v1.json", "moral_dataset_v1.json"]);
    assert.equal(s.location, path.join(cache, "data", "moca"));
    assert.deepEqual(content(s), content(suite));
    const again = await loadMoCa({ cacheDir: cache });
    assert.equal(requests.length, 2);
    assert.equal(again.fingerprint, suite.fingerprint);
  });

  it("a file that is not the pinned one is refused and not kept", async () => {
    process.env[MOCA_URL_ENV] = url;
    tamper = true;
    const cache = await tempDir();
    const e = await rejectsCivitas(loadMoCa({ cacheDir: cache, datasets: ["moral"] }), "network");
    assert.match(e.message, /moral_dataset_v1\.json is not the pinned one/);
    assert.deepEqual(await readdir(path.join(cache, "data", "moca")), []);
  });
});
