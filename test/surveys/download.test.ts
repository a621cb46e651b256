import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, mkdtemp, rm, writeFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { defaultCacheDir, ensureCached, sha256File } from "../../src/surveys/download.js";
import { OPINIONQA_FILES, OPINIONQA_URL_ENV } from "../../src/surveys/opinionqa-manifest.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import type { Suite } from "../../src/surveys/types.js";
import { rejectsCivitas } from "../helpers/errors.js";

const HUMAN_RESP = fileURLToPath(new URL("../../../shared/data/opinionqa/human_resp", import.meta.url));

/** Everything a suite holds except where it was loaded from, as plain data. */
function suiteContent(s: Suite): unknown {
  const humans: unknown[] = [];
  for (const q of s.questions) for (const p of s.populations) humans.push(s.human(q.id, p.id) ?? null);
  const { name, title, fingerprint, reference, defaultMetric, questions, populations } = s;
  return { name, title, fingerprint, reference, defaultMetric, questions, populations, humans };
}

/** All files under dir, relative, "/"-separated. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join("/"))
    .sort();
}

interface TestServer {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 serving files under `root` (URL path = file path), through
 * `tamper` which may replace the answer.
 */
async function serve(
  root: string,
  tamper: (rel: string, body: Buffer) => { status: number; body: Buffer } = (_r, body) => ({ status: 200, body }),
): Promise<TestServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    requests.push(rel);
    readFile(path.join(root, ...rel.split("/")))
      .then((body) => tamper(rel, body), () => ({ status: 404, body: Buffer.from("not found") }))
      .then(({ status, body }) => {
        res.writeHead(status, { "content-type": "application/octet-stream", "content-length": body.length });
        res.end(body);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const tmpDirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "civitas-dl-"));
  tmpDirs.push(d);
  return d;
}
after(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env[OPINIONQA_URL_ENV];
});

describe("loadOpinionQA through the download cache", () => {
  let server: TestServer;
  let cache: string;
  let fromFolder: Suite;
  before(async () => {
    server = await serve(HUMAN_RESP);
    cache = await tempDir();
    fromFolder = await loadOpinionQA({ data: HUMAN_RESP });
  });
  after(async () => {
    await server.close();
  });

  it("downloads every pinned file, verifies it, and loads the same suite as the folder", async () => {
    process.env[OPINIONQA_URL_ENV] = server.url;
    const progress: [number, number, string][] = [];
    const suite = await loadOpinionQA({ cacheDir: cache, onProgress: (d, t, f) => progress.push([d, t, f]) });
    const root = path.join(cache, "data", "opinionqa");
    assert.equal(suite.location, root);
    assert.deepEqual(suiteContent(suite), suiteContent(fromFolder));
    // Exactly the pinned files were requested, once each, and nothing else is in the cache.
    assert.equal(OPINIONQA_FILES.length, 150);
    assert.deepEqual([...server.requests].sort(), OPINIONQA_FILES.map((f) => f.path).sort());
    assert.deepEqual(await listFiles(cache), OPINIONQA_FILES.map((f) => `data/opinionqa/${f.path}`).sort());
    assert.equal(progress.length, 150);
    assert.deepEqual(progress.at(-1)!.slice(0, 2), [150, 150]);
  });

  it("a second load makes no request", async () => {
    process.env[OPINIONQA_URL_ENV] = server.url;
    const before = server.requests.length;
    const suite = await loadOpinionQA({ cacheDir: cache });
    assert.equal(server.requests.length, before);
    assert.equal(suite.fingerprint, fromFolder.fingerprint);
  });

  it("a cached file that was changed is fetched again, and only that one", async () => {
    process.env[OPINIONQA_URL_ENV] = server.url;
    const rel = "American_Trends_Panel_W42/POLPARTY_data.json";
    const file = path.join(cache, "data", "opinionqa", ...rel.split("/"));
    await writeFile(file, "{}");
    const before = server.requests.length;
    const suite = await loadOpinionQA({ cacheDir: cache });
    assert.deepEqual(server.requests.slice(before), [rel]);
    assert.equal(suite.fingerprint, fromFolder.fingerprint);
    assert.equal(await sha256File(file), OPINIONQA_FILES.find((f) => f.path === rel)!.sha256);
  });

  it("only the selected waves are fetched", async () => {
    process.env[OPINIONQA_URL_ENV] = server.url;
    const other = await tempDir();
    const before = server.requests.length;
    const suite = await loadOpinionQA({ cacheDir: other, waves: ["W36"] });
    assert.equal(suite.questions.length, 9);
    const asked = server.requests.slice(before);
    assert.equal(asked.length, 10);
    assert.ok(asked.every((r) => r.startsWith("American_Trends_Panel_W36/")));
  });
});

describe("download failures", () => {
  it("a server sending a corrupted file: sha256 error, and nothing corrupt left in the cache", async () => {
    const bad = "American_Trends_Panel_W26/SEX_data.json";
    let corrupted = Buffer.alloc(0);
    const server = await serve(HUMAN_RESP, (rel, body) => {
      if (rel !== bad) return { status: 200, body };
      corrupted = Buffer.from(body);
      corrupted[100] = corrupted[100]! ^ 1;
      return { status: 200, body: corrupted };
    });
    try {
      process.env[OPINIONQA_URL_ENV] = server.url;
      const cache = await tempDir();
      const e = await rejectsCivitas(loadOpinionQA({ cacheDir: cache, waves: ["W26"] }), "network");
      const want = OPINIONQA_FILES.find((f) => f.path === bad)!.sha256;
      const got = createHash("sha256").update(corrupted).digest("hex");
      assert.notEqual(got, want);
      assert.ok(e.message.includes(`${server.url}${bad}`), e.message);
      assert.ok(e.message.includes(`expected sha256 ${want}, got ${got}`), e.message);
      const left = await listFiles(cache);
      assert.ok(!left.includes(`data/opinionqa/${bad}`), left.join("\n"));
      assert.deepEqual(
        left.filter((f) => !OPINIONQA_FILES.some((p) => `data/opinionqa/${p.path}` === f)),
        [],
        "no temporary or unknown file is left",
      );
    } finally {
      await server.close();
    }
  });

  it("HTTP 404: a network error naming the URL and suggesting --data", async () => {
    const server = await serve(await tempDir()); // serves nothing: every file is 404
    try {
      process.env[OPINIONQA_URL_ENV] = server.url;
      const cache = await tempDir();
      const e = await rejectsCivitas(loadOpinionQA({ cacheDir: cache, waves: ["W26"] }), "network");
      assert.match(e.message, new RegExp(`could not download ${server.url}American_Trends_Panel_W26/\\S+: HTTP 404`));
      assert.match(e.hint ?? "", /--data DIR/);
      assert.match(e.hint ?? "", /CIVITAS_OPINIONQA_URL/);
      assert.deepEqual(await listFiles(cache), []);
    } finally {
      await server.close();
    }
  });

  it("connection refused (offline): a network error naming the URL and suggesting --data", async () => {
    const server = await serve(HUMAN_RESP);
    const url = server.url;
    await server.close(); // nothing listens on that port any more
    process.env[OPINIONQA_URL_ENV] = url;
    const cache = await tempDir();
    const e = await rejectsCivitas(loadOpinionQA({ cacheDir: cache, waves: ["W26"] }), "network");
    assert.match(e.message, new RegExp(`could not download ${url}American_Trends_Panel_W26/\\S+: ECONNREFUSED`));
    assert.match(e.hint ?? "", /--data DIR/);
  });

  it("a fetch that throws (fetchImpl) is wrapped the same way", async () => {
    const cache = await tempDir();
    const fetchImpl = (async () => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo ENOTFOUND x"), { code: "ENOTFOUND" }) });
    }) as typeof fetch;
    const e = await rejectsCivitas(loadOpinionQA({ cacheDir: cache, waves: ["W26"], fetchImpl }), "network");
    assert.match(e.message, /could not download https:\/\/raw\.githubusercontent\.com\/tatsu-lab\/opinions_qa\/ed8c4e0ac1a48c77e041db58d877eb3d0d949d65\/data\/human_resp\/American_Trends_Panel_W26\/\S+: ENOTFOUND/);
  });
});

describe("ensureCached", () => {
  it("puts files under <cache>/data/<name>/<path> and uses the base URL override", async () => {
    const src = await tempDir();
    await writeFile(path.join(src, "a b.txt"), "hello");
    const sha = createHash("sha256").update("hello").digest("hex");
    const server = await serve(src);
    try {
      const cache = await tempDir();
      const root = await ensureCached(
        { name: "tiny", baseUrl: "http://127.0.0.1:9/unused", urlEnv: "TINY_URL", files: [{ path: "a b.txt", sha256: sha }] },
        { cacheDir: cache, env: { TINY_URL: server.url.replace(/\/$/, "") } },
      );
      assert.equal(root, path.join(cache, "data", "tiny"));
      assert.equal(await readFile(path.join(root, "a b.txt"), "utf8"), "hello");
      assert.deepEqual(server.requests, ["a b.txt"]);
      // Without the override the (unreachable) base URL is used only if something must be fetched.
      await ensureCached({ name: "tiny", baseUrl: "http://127.0.0.1:9/", files: [{ path: "a b.txt", sha256: sha }] }, { cacheDir: cache });
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  it("rejects file paths that would escape the cache", async () => {
    const cache = await tempDir();
    for (const p of ["../evil", "a/../../evil", "/etc/passwd", "a//b"]) {
      await rejectsCivitas(
        ensureCached({ name: "x", baseUrl: "http://127.0.0.1:9/", files: [{ path: p, sha256: "0".repeat(64) }] }, { cacheDir: cache }),
        "usage",
      );
    }
    await rejectsCivitas(ensureCached({ name: "..", baseUrl: "http://127.0.0.1:9/", files: [] }, { cacheDir: cache }), "usage");
    await assert.rejects(stat(path.join(cache, "evil")));
  });

  it("default cache folder: CIVITAS_CACHE_DIR, else XDG_CACHE_HOME/civitas, else ~/.cache/civitas", () => {
    assert.equal(defaultCacheDir({ CIVITAS_CACHE_DIR: "/tmp/c1", XDG_CACHE_HOME: "/tmp/x" }), "/tmp/c1");
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: "/tmp/x" }), path.join("/tmp/x", "civitas"));
    assert.equal(defaultCacheDir({ CIVITAS_CACHE_DIR: "", XDG_CACHE_HOME: "" }), path.join(homedir(), ".cache", "civitas"));
  });

  it("uses CIVITAS_CACHE_DIR from the environment when no cacheDir is given", async () => {
    const src = await tempDir();
    await writeFile(path.join(src, "f.txt"), "x");
    const server = await serve(src);
    try {
      const cache = await tempDir();
      const root = await ensureCached(
        { name: "envtest", baseUrl: server.url, files: [{ path: "f.txt", sha256: createHash("sha256").update("x").digest("hex") }] },
        { env: { CIVITAS_CACHE_DIR: cache } },
      );
      assert.equal(root, path.join(cache, "data", "envtest"));
      assert.equal(await readFile(path.join(root, "f.txt"), "utf8"), "x");
    } finally {
      await server.close();
    }
  });
});
