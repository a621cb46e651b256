/**
 * Fetch the files of a pinned data source into a local cache and verify them by sha256.
 *
 * Layout: `<cache>/data/<name>/<path>`. A file already there with the right hash is not fetched
 * again. A file pinned with `sha256: null` (a source whose hash could not be recorded, e.g. a
 * Hugging Face dataset file when the pin was written offline) is fetched once and then reused as
 * it is, unverified: `onUnverified` reports it, with its actual sha256, every time it is used, so
 * that callers can warn (and users can pin it). Downloads are streamed to a temporary file beside
 * the target, hashed on the way, and renamed into place only when the hash matches, so the cache
 * never holds a partial or corrupt file (and concurrent runs cannot see one).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { defaultCacheDir } from "../cache.js";
import { CivitasError, messageOf } from "../errors.js";

export { defaultCacheDir };

export interface PinnedFile {
  /** Path relative to the source's base URL and to the cache folder, "/"-separated. */
  readonly path: string;
  /**
   * Expected sha256, lowercase hex; null = not verified (see the module comment): the file is
   * downloaded if missing and reported through CacheOptions.onUnverified.
   */
  readonly sha256: string | null;
}

export interface PinnedSource {
  /** Folder name inside the cache (`<cache>/data/<name>`). */
  readonly name: string;
  /** Base URL the file paths are appended to. */
  readonly baseUrl: string;
  readonly files: readonly PinnedFile[];
  /** Environment variable that, when set, replaces `baseUrl` (a mirror, or a local test server). */
  readonly urlEnv?: string;
}

export interface CacheOptions {
  /** Cache root; default `defaultCacheDir()`. */
  readonly cacheDir?: string;
  /** Called after each file is verified (whether it was fetched or already cached). */
  readonly onProgress?: (done: number, total: number, file: string) => void;
  /**
   * Called for each file pinned with `sha256: null` when it is used (`fetched`: downloaded now,
   * else found in the cache), with the sha256 it actually has. Such a file is not verified.
   */
  readonly onUnverified?: (info: { file: string; url: string; sha256: string; fetched: boolean }) => void;
  /** Replaces the global fetch (tests). */
  readonly fetchImpl?: typeof fetch;
  /** Per-file timeout in milliseconds (default 120 000). */
  readonly timeoutMs?: number;
  /** Files fetched at once (default 4). */
  readonly concurrency?: number;
  /** Environment to read CIVITAS_CACHE_DIR, XDG_CACHE_HOME and `urlEnv` from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** What a suite loader takes besides its data: where and how to download into the cache. */
export interface LoaderCacheOptions {
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  readonly fetchImpl?: typeof fetch;
  readonly env?: NodeJS.ProcessEnv;
}

/** A loader's options as CacheOptions (only those it was given: exactOptionalPropertyTypes). */
export function cacheOptionsOf(o: LoaderCacheOptions): CacheOptions {
  return {
    ...(o.cacheDir !== undefined ? { cacheDir: o.cacheDir } : {}),
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
    ...(o.fetchImpl !== undefined ? { fetchImpl: o.fetchImpl } : {}),
    ...(o.env !== undefined ? { env: o.env } : {}),
  };
}

/** The folder a source is cached in: `<cache>/data/<name>`. */
export function sourceCacheDir(name: string, cacheDir?: string): string {
  checkSegment(name, `source name "${name}"`);
  return path.join(cacheDir ?? defaultCacheDir(), "data", name);
}

/** sha256 (hex) of a file; undefined when the file does not exist. Large files are streamed. */
export async function sha256File(file: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    const { size } = await stat(file);
    if (size <= 32 * 1024 * 1024) hash.update(await readFile(file));
    else await pipeline(createReadStream(file), hash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return hash.digest("hex");
}

function checkSegment(seg: string, what: string): void {
  if (seg === "" || seg === "." || seg === ".." || seg.includes("/") || seg.includes("\\") || seg.includes("\0")) {
    throw new CivitasError("usage", `invalid ${what}: it must be a plain file or folder name`);
  }
}

function localPath(root: string, rel: string): string {
  const segs = rel.split("/");
  for (const s of segs) checkSegment(s, `file path "${rel}" in a pinned source`);
  return path.join(root, ...segs);
}

function fileUrl(base: string, rel: string): string {
  const b = base.endsWith("/") ? base : `${base}/`;
  return b + rel.split("/").map(encodeURIComponent).join("/");
}

/**
 * Makes sure every file of `spec` is in the cache with the right sha256, fetching what is missing
 * or wrong, and returns the local folder (`<cache>/data/<name>`).
 *
 * Errors (CivitasError "network"): the server answered with an HTTP error, could not be reached,
 * or sent a file whose sha256 differs from the pinned one. Each names the URL; the first failure
 * stops the download (files already verified stay in the cache).
 */
export async function ensureCached(spec: PinnedSource, opts: CacheOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const root = sourceCacheDir(spec.name, opts.cacheDir ?? defaultCacheDir(env));
  const override = spec.urlEnv ? env[spec.urlEnv] : undefined;
  const baseUrl = override && override.trim() !== "" ? override.trim() : spec.baseUrl;
  const doFetch = opts.fetchImpl ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const total = spec.files.length;
  const hint =
    `download the files yourself and pass --data DIR (a local copy of ${spec.baseUrl})` +
    (spec.urlEnv ? `, or set ${spec.urlEnv} to a mirror` : "");

  // Validate every path before touching the disk or the network.
  const jobs = spec.files.map((f) => ({ file: f, dest: localPath(root, f.path), url: fileUrl(baseUrl, f.path) }));

  let done = 0;
  const one = async (job: (typeof jobs)[number]): Promise<void> => {
    const want = job.file.sha256 === null ? null : job.file.sha256.toLowerCase();
    let have: string | undefined;
    try {
      have = await sha256File(job.dest);
    } catch (e) {
      throw new CivitasError("input", `cannot read the cached file ${job.dest}: ${messageOf(e)}`, {
        hint: `delete ${root} (or set CIVITAS_CACHE_DIR to another folder) and try again`,
        cause: e,
      });
    }
    if (want === null) {
      // Not pinned: fetch when missing, reuse what is cached; either way, report it.
      const fetched = have === undefined;
      if (fetched) have = await download(job.url, job.dest, null, doFetch, timeoutMs, hint);
      opts.onUnverified?.({ file: job.file.path, url: job.url, sha256: have!, fetched });
    } else if (have !== want) {
      // A wrong file is never kept, even if the download below fails.
      if (have !== undefined) await rm(job.dest, { force: true });
      await download(job.url, job.dest, want, doFetch, timeoutMs, hint);
    }
    done++;
    opts.onProgress?.(done, total, job.file.path);
  };

  await runPool(jobs, Math.max(1, opts.concurrency ?? 4), one);
  return root;
}

/** Downloads `url` to `dest` (atomically); checks the sha256 unless `want` is null. Returns the sha256. */
async function download(
  url: string,
  dest: string,
  want: string | null,
  doFetch: typeof fetch,
  timeoutMs: number,
  hint: string,
): Promise<string> {
  let res: Response;
  try {
    res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (e) {
    throw new CivitasError("network", `could not download ${url}: ${describeFetchError(e)}`, { hint, cause: e });
  }
  if (!res.ok || !res.body) {
    // Do not leave the connection hanging on an unread body.
    await res.body?.cancel().catch(() => undefined);
    throw new CivitasError("network", `could not download ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd(), {
      hint,
    });
  }

  try {
    await mkdir(path.dirname(dest), { recursive: true });
  } catch (e) {
    await res.body.cancel().catch(() => undefined);
    throw new CivitasError("input", `cannot create the cache folder ${path.dirname(dest)}: ${messageOf(e)}`, {
      hint: "set CIVITAS_CACHE_DIR to a writable folder",
      cause: e,
    });
  }
  const tmp = `${dest}.${process.pid}.${randomBytes(6).toString("hex")}.part`;
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, createWriteStream(tmp));
    } catch (e) {
      throw new CivitasError("network", `download of ${url} was interrupted: ${describeFetchError(e)}`, {
        hint,
        cause: e,
      });
    }
    const got = hash.digest("hex");
    if (want !== null && got !== want) {
      throw new CivitasError(
        "network",
        `the file downloaded from ${url} is not the pinned one: expected sha256 ${want}, got ${got}`,
        { hint: `the source or a proxy changed the file; nothing was kept in the cache. ${hint}` },
      );
    }
    await rename(tmp, dest);
    return got;
  } finally {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}

function describeFetchError(e: unknown): string {
  if (e instanceof Error && e.name === "TimeoutError") return "timed out";
  // undici hides the reason (ECONNREFUSED, ENOTFOUND, ...) in `cause`.
  const cause = (e as { cause?: unknown } | undefined)?.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} (${cause.message})` : cause.message;
  }
  return messageOf(e);
}

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first error once in-flight work settled. */
async function runPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        if (!failed) {
          failed = true;
          firstError = e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
}

/** True when `p` exists and is a directory. */
export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether a path is a file, a folder, or neither (missing, unreadable). */
export async function pathKind(p: string): Promise<"file" | "dir" | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}
