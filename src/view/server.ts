/**
 * `civitas view`: a local web app over one store, on node:http.
 *
 * Routes (GET and HEAD only; everything else is a 404 or 405):
 *   /                                    runs, filtered and paged
 *   /runs/<id>                           a run's page (a unique id prefix redirects to the run)
 *   /runs/<id>/answers                   its answers, filtered and paged
 *   /runs/<id>/answers.csv|jsonl|parquet its answers as a file
 *   /compare?run=<id>&run=<id>...        runs side by side
 *
 * The store is shared with the commands writing to it: the viewer opens it read-only and only
 * while it serves a page (src/store/handle.ts); a writer holds it for tens of milliseconds at a
 * time, so a page waits for it briefly rather than failing. Pages of running runs show their
 * progress and reload themselves.
 *
 * Security stance: binds 127.0.0.1 unless told otherwise; while bound to a loopback address it
 * answers only requests addressed to a loopback name (a web page cannot reach it through DNS
 * rebinding); opens the store read-only and serves nothing else (no path in a request reaches the
 * file system: run ids are checked against the store, files to download are named by the viewer);
 * every value from the store is escaped, and the pages forbid scripts altogether (CSP).
 */
import { once } from "node:events";
import { mkdtemp, rm, stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { CivitasError } from "../errors.js";
import { isStoreBusy, isStoreDamaged, Store } from "../store/index.js";
import { answersPage } from "./answers.js";
import { exportRun, FORMATS, sendExport, type Format } from "./download.js";
import { HttpError, Params, SECURITY_HEADERS, sendHtml } from "./http.js";
import { errorPage, frameFor } from "./layout.js";
import { compareViewPage, resolveRun, runViewPage } from "./run.js";
import { runsListPage } from "./runs.js";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 4280;

export interface ViewerOptions {
  /** The store to serve (opened read-only, never created or written). */
  readonly file: string;
  /** Default 127.0.0.1. Anything else makes the store visible to whoever can reach that address. */
  readonly host?: string;
  /** Default 4280; 0 picks a free port. */
  readonly port?: number;
  /** How long the store stays open after the last request, in ms (default 200): writers can use it in between. */
  readonly idleMs?: number;
  /** How long a page waits for a process holding the store before answering 503, in ms (default 20 s). */
  readonly waitMs?: number;
  /** Called with unexpected errors (a bug, or the store failing); the page shows a 500. */
  readonly onError?: (error: unknown) => void;
}

export interface Viewer {
  /** http://host:port/ to open in a browser (127.0.0.1 when listening on every interface). */
  readonly url: string;
  readonly address: AddressInfo;
  /** Whether it listens on an address other machines can reach. */
  readonly exposed: boolean;
  readonly server: http.Server;
  /** Stops listening, ends open connections, closes the store, removes temporary files. */
  close(): Promise<void>;
}

/** Whether a host name or address stays on this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/gu, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/u.test(h) || h === "::ffff:127.0.0.1";
}


type Route =
  | { kind: "runs" }
  | { kind: "run"; id: string }
  | { kind: "answers"; id: string }
  | { kind: "download"; id: string; format: Format }
  | { kind: "compare" }
  | { kind: "favicon" };

const RUN_PATH = /^\/runs\/([^/]+)(?:\/(answers)(?:\.([a-z]+))?)?\/?$/u;

/** The route of a path, or undefined (404). Segments stay percent-encoded: an id with % is no id. */
export function route(pathname: string): Route | undefined {
  if (pathname === "/" || pathname === "/runs" || pathname === "/runs/") return { kind: "runs" };
  if (pathname === "/compare" || pathname === "/compare/") return { kind: "compare" };
  if (pathname === "/favicon.ico") return { kind: "favicon" };
  const m = RUN_PATH.exec(pathname);
  if (!m) return undefined;
  const id = m[1]!;
  if (m[2] === undefined) return { kind: "run", id };
  if (m[3] === undefined) return { kind: "answers", id };
  return (FORMATS as readonly string[]).includes(m[3]) ? { kind: "download", id, format: m[3] as Format } : undefined;
}

export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const host = options.host ?? DEFAULT_HOST;
  const file = path.resolve(options.file);
  try {
    if (!(await stat(file)).isFile()) throw new Error("not a file");
  } catch {
    throw new CivitasError("usage", `no store at ${options.file}`, { hint: "run `civitas eval` first, or pass --store with the file it used" });
  }
  const store = await Store.open(file, { readOnly: true, idleMs: options.idleMs ?? 200, waitMs: options.waitMs ?? 20_000 });
  const tmp = await mkdtemp(path.join(os.tmpdir(), "civitas-view-"));
  const frame = frameFor(file);
  const loopback = isLoopback(host);
  let allowedHosts = new Set<string>();

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // The page says nothing of the error (it may name internal files, such as the viewer's temporary folder); the server's log has it.
      options.onError?.(e);
      if (!res.headersSent) sendHtml(res, 500, errorPage(frame, 500, "Internal error: this page could not be made.", "What went wrong is printed in the terminal running civitas view."));
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      await dispatch(req, res);
    } catch (e) {
      if (res.headersSent) throw e;
      if (e instanceof HttpError) {
        sendHtml(res, e.status, errorPage(frame, e.status, e.message, e.hint), e.headers);
      } else if (isStoreBusy(e)) {
        sendHtml(res, 503, errorPage(frame, 503, "Another process has held this store for a while.", "civitas commands hold it only briefly: a DuckDB shell or notebook may have it open. Reload this page when it is closed."), { "retry-after": "5" });
      } else if (isStoreDamaged(e)) {
        // Said as such, naming the file as the navigation bar does (no folder).
        const local = (t: string) => t.split(file).join(path.basename(file));
        sendHtml(res, 500, errorPage(frame, 500, local(e.message), e.hint === undefined ? undefined : local(e.hint)));
      } else {
        throw e;
      }
    }
  }

  async function dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    if (!target.startsWith("/")) throw new HttpError(400, "bad request target");
    // A loopback server answers only to loopback names: a page elsewhere cannot reach it by DNS rebinding.
    const hostHeader = req.headers.host?.toLowerCase();
    if (loopback && hostHeader !== undefined && !allowedHosts.has(hostHeader)) throw new HttpError(403, "this viewer answers only to requests addressed to 127.0.0.1 or localhost");
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `method ${req.method ?? "?"} not allowed: the viewer only reads`, undefined, { allow: "GET, HEAD" });
    const url = new URL(`http://viewer${target}`);
    const r = route(url.pathname);
    if (r === undefined) throw new HttpError(404, `no page at ${url.pathname}`);
    const params = new Params(url.searchParams);
    switch (r.kind) {
      case "favicon":
        res.writeHead(204, SECURITY_HEADERS);
        res.end();
        return;
      case "runs":
        sendHtml(res, 200, await runsListPage(store, frame, params));
        return;
      case "compare": {
        const out = await compareViewPage(store, frame, params);
        sendHtml(res, out.status, out.html);
        return;
      }
      case "run":
      case "answers": {
        const out = await (async () => {
          const run = await resolveRun(store, r.id);
          if (run.id !== r.id) return { redirect: `/runs/${encodeURIComponent(run.id)}${r.kind === "answers" ? "/answers" : ""}${url.search}` };
          return r.kind === "run" ? await runViewPage(store, frame, run) : { status: 200, html: await answersPage(store, frame, run, params) };
        })();
        if ("redirect" in out) {
          res.writeHead(302, { ...SECURITY_HEADERS, location: out.redirect });
          res.end();
        } else sendHtml(res, out.status, out.html);
        return;
      }
      case "download": {
        const run = await store.getRun(r.id);
        if (!run) throw new HttpError(404, `no run ${r.id} in this store`, "downloads need the full run id");
        const exported = await exportRun(store, tmp, run.id, r.format);
        await sendExport(req, res, exported, r.id, r.format);
        return;
      }
    }
  }

  server.on("clientError", (_e, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  server.listen(options.port ?? DEFAULT_PORT, host);
  try {
    await Promise.race([once(server, "listening"), once(server, "error").then(([e]) => Promise.reject(e as Error))]);
  } catch (e) {
    await store.close();
    await rm(tmp, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new CivitasError("usage", `port ${options.port ?? DEFAULT_PORT} on ${host} is in use`, { hint: "pass --port with another port, or --port 0 for any free one", cause: e });
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") throw new CivitasError("usage", `cannot listen on ${host}: no such address on this machine`, { cause: e });
    if (code === "EACCES") throw new CivitasError("usage", `not allowed to listen on port ${options.port ?? DEFAULT_PORT}`, { hint: "use a port above 1023", cause: e });
    throw e;
  }
  const address = server.address() as AddressInfo;
  allowedHosts = new Set(["127.0.0.1", "localhost", "[::1]"].map((h) => `${h}:${address.port}`));
  if (loopback) allowedHosts.add(`${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${address.port}`.toLowerCase());
  const shown = address.address === "0.0.0.0" || address.address === "::" ? "127.0.0.1" : address.address;
  const url = `http://${shown.includes(":") ? `[${shown}]` : shown}:${address.port}/`;

  let closing: Promise<void> | undefined;
  return {
    url,
    address,
    exposed: !loopback,
    server,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await store.close();
        await rm(tmp, { recursive: true, force: true });
      })()),
  };
}
