/**
 * The Hugging Face loader (`civitas eval hf --data hf:<mapping>`) on small files of the documented
 * shapes, written here (Parquet with hyparquet-writer, JSON Lines, CSV) and served over real HTTP
 * by a local server standing in for the Hub (HF_ENDPOINT): download, cache reuse, sha256 pins,
 * the shipped NormAd and PRISM-survey mappings, and mapping and data errors that name the file
 * and the row or field.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parquetWriteBuffer } from "hyparquet-writer";
import { pathKind } from "../../src/surveys/download.js";
import { hfCacheName, loadHf, parseMapping } from "../../src/surveys/hf.js";
import { runCli } from "../helpers/cli.js";
import { rejectsCivitas } from "../helpers/errors.js";

const MAPPINGS = fileURLToPath(new URL("../../mappings/hf/", import.meta.url));
const MODEL = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

/** The files the fake Hub serves: URL path -> bytes; and the paths requested. */
const served = new Map<string, Buffer>();
const hits: string[] = [];
let server: Server;
let endpoint: string;
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "civitas-hf-"));
  server = createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    hits.push(p);
    const body = served.get(p);
    if (!body) {
      res.statusCode = 404;
      res.end("not found");
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.close();
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  hits.length = 0;
});

const REV = "0123456789abcdef0123456789abcdef01234567";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** An aggregated Parquet file: a row per question and group, options and shares as list columns. */
const parquet = Buffer.from(
  parquetWriteBuffer({
    columnData: [
      { name: "qid", data: ["q1", "q1", "q2"] },
      { name: "question", data: ["Is it fine?", "Is it fine?", "How often?"] },
      { name: "country", data: ["Japan", "Kenya", "Japan"] },
      { name: "options", data: [["Yes", "No"], ["Yes", "No"], ["Never", "Sometimes", "Often"]] },
      { name: "shares", data: [[0.25, 0.75], [0.6, 0.4], [1, 2, 1]] },
    ],
  }),
);
served.set(`/datasets/org/agg/resolve/${REV}/data/train-00000.parquet`, parquet);

async function mapping(name: string, body: string): Promise<string> {
  const f = path.join(tmp, `${name}.yaml`);
  await writeFile(f, body);
  return f;
}

const aggMapping = (sha256: string | null, extra = "") => `name: agg
title: A test dataset
licence: CC0
repo: org/agg
revision: ${REV}
files:
  - path: data/train-00000.parquet
    sha256: ${sha256 === null ? "null" : `"${sha256}"`}
shape: aggregated
attribute: country
columns:
  id: qid
  question: question
  group: country
  options: options
  shares: shares
${extra}`;

describe("hf: a Parquet dataset through a mapping", () => {
  it("downloads the file from the Hub's address into the cache, reads the shares, and reuses the cache", async () => {
    const m = await mapping("agg", aggMapping(sha(parquet)));
    const cacheDir = path.join(tmp, "cache1");
    const s = await loadHf({ data: `hf:${m}`, cacheDir, env: { HF_ENDPOINT: endpoint } });
    assert.deepEqual(hits, [`/datasets/org/agg/resolve/${REV}/data/train-00000.parquet`]);
    assert.deepEqual(s.questions.map((q) => [q.id, q.text, q.options]), [["q1", "Is it fine?", ["Yes", "No"]], ["q2", "How often?", ["Never", "Sometimes", "Often"]]]);
    assert.deepEqual(s.populations.map((p) => p.id), ["country=Japan", "country=Kenya"]);
    assert.deepEqual(s.human("q1", "country=Kenya")!.probs, [0.6, 0.4]);
    // Shares are renormalised: 1, 2, 1 of 4.
    assert.deepEqual(s.human("q2", "country=Japan")!.probs, [0.25, 0.5, 0.25]);
    assert.equal(s.human("q2", "country=Kenya"), undefined);
    assert.equal(s.licence, "CC0");
    hits.length = 0;
    const again = await loadHf({ data: `hf:${m}`, cacheDir, env: { HF_ENDPOINT: endpoint } });
    assert.deepEqual(hits, [], "the second load reads the cache");
    assert.equal(again.fingerprint, s.fingerprint);
  });

  it("refuses a file whose sha256 is not the pinned one, and keeps nothing of it", async () => {
    const m = await mapping("agg-badsha", aggMapping("0".repeat(64)));
    const cacheDir = path.join(tmp, "cache2");
    const e = await rejectsCivitas(loadHf({ data: `hf:${m}`, cacheDir, env: { HF_ENDPOINT: endpoint } }), "network");
    assert.match(e.message, /sha256/u);
    assert.equal(await pathKind(path.join(cacheDir, "data", hfCacheName("org/agg", REV), "data", "train-00000.parquet")), undefined);
  });

  it("a mapping naming a column the rows lack is an error naming the file, row and column", async () => {
    const m = await mapping("agg-badcol", aggMapping(null).replace("shares: shares", "shares: share"));
    const e = await rejectsCivitas(loadHf({ data: `hf:${m}`, cacheDir: path.join(tmp, "cache3"), env: { HF_ENDPOINT: endpoint } }), "input");
    assert.match(e.message, /train-00000\.parquet row 1, column share: expected a list/u);
  });
});

describe("hf: mapping errors name the file and field", () => {
  it("a missing field, an unknown field, both shares and label, options given twice", () => {
    assert.throws(() => parseMapping(aggMapping(null).replace("repo: org/agg\n", ""), "m.yaml"), /m\.yaml: repo: /u);
    assert.throws(() => parseMapping(`${aggMapping(null)}colour: red\n`, "m.yaml"), /m\.yaml: the mapping: Unrecognized key.*colour/u);
    assert.throws(() => parseMapping(aggMapping(null).replace("shares: shares", "shares: shares\n  label: x"), "m.yaml"), /m\.yaml: columns: give one of shares .* or label/u);
    assert.throws(() => parseMapping(`${aggMapping(null)}options: [a, b]\n`, "m.yaml"), /m\.yaml: give the options either as a column/u);
    assert.throws(() => parseMapping("shape: [", "m.yaml"), /m\.yaml: not valid YAML or JSON/u);
  });
  it("an unknown built-in name or a missing file is a usage error", async () => {
    const e = await rejectsCivitas(loadHf({ data: "hf:nonesuch", cacheDir: tmp }), "usage");
    assert.match(e.message, /no mapping "nonesuch"/u);
    assert.match(e.hint ?? "", /normad, prism-survey/u);
  });
});

describe("hf: the shipped mappings on small files of the documented shapes", () => {
  it("NormAd: one story per country with a gold label, asked with its background; a bad label names the line", async () => {
    const m = parseMapping(await readFile(path.join(MAPPINGS, "normad.yaml"), "utf8"), "normad.yaml");
    assert.equal(m.repo, "akhilayerukola/NormAd");
    const csv = [
      "ID,Country,Background,Axis,Subaxis,Value,Rule-of-Thumb,Story,Explanation,Gold Label",
      '1,egypt,"In Egypt, guests bring sweets.",etiquette,gifts,Respect hosts,It is good to bring a gift,"Amir brought pastries to his host.",Gifts are expected,yes',
      '2,japan,"In Japan, shoes come off indoors.",etiquette,home,Cleanliness,Take shoes off,"Ken kept his shoes on inside.",Shoes stay at the door,no',
    ].join("\n");
    const url = `/datasets/${m.repo}/resolve/${m.revision}/normad_etiquette_final_data.csv`;
    served.set(url, Buffer.from(csv));
    const s = await loadHf({ data: "hf:normad", cacheDir: path.join(tmp, "cache4"), env: { HF_ENDPOINT: endpoint } });
    assert.deepEqual(hits, [url]);
    assert.deepEqual(s.populations.map((p) => p.id), ["country=egypt", "country=japan"]);
    assert.deepEqual(s.questions[1]!.options, ["yes", "no", "neutral"]);
    assert.equal(s.questions[1]!.text, "In Japan, shoes come off indoors.\n\nKen kept his shoes on inside.\nIs what the person did socially acceptable?");
    assert.deepEqual(s.human("2", "country=japan")!.probs, [0, 1, 0]);
    assert.match(s.licence ?? "", /CC BY 4\.0/u);

    served.set(url, Buffer.from(`${csv}\n3,peru,"B.",x,y,z,r,"S.",e,maybe`));
    const e = await rejectsCivitas(loadHf({ data: "hf:normad", cacheDir: path.join(tmp, "cache5"), env: { HF_ENDPOINT: endpoint } }), "input");
    assert.match(e.message, /normad_etiquette_final_data\.csv line 4, column Gold Label: "maybe" is not one of the options \(yes, no, neutral\)/u);
  });

  it("PRISM survey: a row per person, answers counted per group (nested location), overall included", async () => {
    const m = parseMapping(await readFile(path.join(MAPPINGS, "prism-survey.yaml"), "utf8"), "prism-survey.yaml");
    const person = (id: string, gender: string, region: string, fam: string, freq: string | null) =>
      JSON.stringify({ user_id: id, gender, age: "25-34 years old", education: "University", location: { reside_region: region, reside_country: "x" }, lm_familiarity: fam, lm_indirect_use: "Yes", lm_direct_use: "Yes", lm_frequency_use: freq });
    const lines = [
      person("u1", "Female", "Europe", "Very familiar", "Every day"),
      person("u2", "Male", "Europe", "Somewhat familiar", "Every week"),
      person("u3", "Female", "Africa", "Very familiar", null),
      person("u4", "Female", "Europe", "Not familiar at all", "Every week"),
    ];
    served.set(`/datasets/${m.repo}/resolve/main/survey.jsonl`, Buffer.from(`${lines.join("\n")}\n`));
    const s = await loadHf({ data: "hf:prism-survey", cacheDir: path.join(tmp, "cache6"), env: { HF_ENDPOINT: endpoint } });
    const fam = s.questions.find((q) => q.id === "lm_familiarity")!;
    assert.deepEqual(fam.options, ["Not familiar at all", "Somewhat familiar", "Very familiar"]);
    // Female: u1 very, u3 very, u4 not: [1, 0, 2] / 3.
    assert.deepEqual(s.human("lm_familiarity", "gender=Female")!.probs, [1 / 3, 0, 2 / 3]);
    assert.deepEqual(s.human("lm_familiarity", "location.reside_region=Africa")!.probs, [0, 0, 1]);
    assert.deepEqual(s.human("lm_familiarity", "overall")!.probs, [0.25, 0.25, 0.5]);
    // u3 did not answer the frequency question: left out, and said so.
    assert.equal(s.human("lm_frequency_use", "overall")!.n, 3);
    assert.ok(s.warnings?.some((w) => /lm_frequency_use: 1 row\(s\) without an answer/u.test(w)));
    assert.ok(s.warnings?.some((w) => /revision main, a branch or tag, not a commit/u.test(w)));
    assert.equal(s.reference, "overall");
    // Everyone answered "Yes" to the indirect-use question and the mapping lists no options: not asked, and said so.
    assert.equal(s.questions.find((q) => q.id === "lm_indirect_use"), undefined);
    assert.ok(s.warnings?.some((w) => /lm_indirect_use: column lm_indirect_use has 1 distinct answer\(s\)/u.test(w)));
  });

  it("is evaluated end to end through the CLI (stories260K proves the machinery, not a result)", async () => {
    const m = await mapping("agg-cli", aggMapping(sha(parquet)));
    const r = await runCli(["eval", "hf", "--data", `hf:${m}`, "--model", `llama:${MODEL}`, "--threads", "1", "--cache-dir", path.join(tmp, "cache7"), "--store", path.join(tmp, "h.duckdb"), "--progress", "none", "--json"], {
      env: { HF_ENDPOINT: endpoint },
    });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { suite: string; populations: { population: string; n: number }[] };
    assert.equal(j.suite, "hf");
    assert.deepEqual(j.populations.map((p) => [p.population, p.n]), [["country=Japan", 2], ["country=Kenya", 1]]);
  });
});
