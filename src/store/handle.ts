/**
 * Short holds on a DuckDB file, so that several processes can share one store.
 *
 * DuckDB lets one process open a file for writing, or any number of processes open it for
 * reading, never both at once; a second opener fails at once with "Could not set lock on file".
 * Civitas therefore never keeps a store open for long: every operation opens the file (or joins
 * this process's open handle), runs, and the handle is closed again once nobody in the process
 * has used it for `idleMs`. A process that finds the file locked waits and tries again, with
 * jittered backoff, for up to `waitMs`; long-running commands write in batches (`BatchWriter`),
 * so that between two batches the file is free for the others. See docs/design.md ("One store,
 * several processes").
 *
 * Within one process there is at most one DuckDB instance per file: two instances on one file in
 * one process do not exclude each other and corrupt it (seen with @duckdb/node-api 1.5). Every
 * Store of the same file in a process shares its handle, through `handleFor`.
 */
import os from "node:os";
import { realpathSync } from "node:fs";
import path from "node:path";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { CivitasError, messageOf } from "../errors.js";

export type Access = "read" | "write";

export interface UseOptions {
  /** How long to wait for another process to release the file, in ms (0: fail at once). */
  readonly waitMs: number;
  /** How long the handle stays open after its last use, in ms. */
  readonly idleMs: number;
  /** Told once per wait that the file is held by another process, after `noticeMs`. */
  readonly onWait?: (message: string) => void;
  /** How long a wait lasts before onWait is told (default 2 s). */
  readonly noticeMs?: number;
}

/** DuckDB's message when another process holds the file. */
const LOCKED = /Could not set lock on file/u;
/** DuckDB's messages for a file that is not a readable database (checksums, truncation, garbage). */
const DAMAGED = /Corrupt database file|does not match stored checksum|Could not read enough bytes|Failed to deserialize|not a valid DuckDB database|database file .* is not valid|Serialization Error/u;

export function isLockedError(e: unknown): boolean {
  return LOCKED.test(messageOf(e));
}

export function isDamagedError(e: unknown): boolean {
  return DAMAGED.test(messageOf(e));
}

/** The holder named in DuckDB's lock message ("... held in /usr/bin/node (PID 1234)"). */
export function lockHolder(e: unknown): string | undefined {
  const m = /held in (.+?) \(PID (\d+)\)/u.exec(messageOf(e));
  return m ? `process ${m[2]} (${path.basename(m[1]!)})` : undefined;
}

/** A store DuckDB cannot read (checksums, truncation): said as such, never as "in use". */
export class StoreDamagedError extends CivitasError {}

export function isStoreDamaged(e: unknown): e is StoreDamagedError {
  return e instanceof StoreDamagedError;
}

export function damagedError(file: string, e: unknown): StoreDamagedError {
  return new StoreDamagedError("store", `the store ${file} is damaged: ${messageOf(e)}`, {
    hint: `DuckDB cannot read it. Move it aside (mv ${file} ${file}.damaged) and run again to start a new store, or restore it from a copy; the rest of civitas does not need it`,
    cause: e,
  });
}

/** Another process held the store for longer than the caller would wait. */
export class StoreBusyError extends CivitasError {}

export function isStoreBusy(e: unknown): e is StoreBusyError {
  return e instanceof StoreBusyError;
}

export function busyError(file: string, waitedMs: number, e: unknown): StoreBusyError {
  const holder = lockHolder(e);
  const waited = waitedMs < 1000 ? "" : `, and was not released for ${Math.round(waitedMs / 1000)} s`;
  return new StoreBusyError("store", `the store ${file} is in use by another process${holder ? ` (${holder})` : ""}${waited}`, {
    hint: "civitas commands share a store, holding it only briefly; a process that holds it this long is probably not civitas (a DuckDB shell, a notebook) or an older civitas: close it, or pass --store to use another file",
    cause: e,
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** This process's hold on one DuckDB file. */
export class FileHandle {
  private instance: DuckDBInstance | null = null;
  private access: Access | null = null;
  /** Uses in this process that have not finished (waiting or running): the handle stays open for them. */
  private users = 0;
  /** Uses running on a connection now. */
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Opening, closing and upgrading happen one at a time. */
  private transition: Promise<unknown> = Promise.resolve();
  /** Writes of this process, one transaction at a time (DuckDB would abort one of two conflicting ones). */
  private writes: Promise<unknown> = Promise.resolve();
  private idleMs = 0;

  constructor(readonly file: string) {}

  /** Whether the file is open in this process now (for tests). */
  get isOpen(): boolean {
    return this.instance !== null;
  }

  /**
   * Runs `fn` with a connection to the file, opening it (or waiting for it) if needed. Writes of
   * this process are serialised; reads run side by side on connections of their own.
   */
  async use<T>(access: Access, options: UseOptions, fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    if (access === "write") {
      const run = this.writes.then(() => this.withConnection(access, options, fn));
      this.writes = run.catch(() => undefined);
      return run;
    }
    return this.withConnection(access, options, fn);
  }

  private async withConnection<T>(access: Access, options: UseOptions, fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    this.users++;
    this.idleMs = options.idleMs;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const instance = await this.ready(access, options);
      this.active++;
      try {
        const con = await instance.connect();
        try {
          return await fn(con);
        } finally {
          con.closeSync();
        }
      } finally {
        this.active--;
      }
    } finally {
      this.users--;
      if (this.users === 0) this.scheduleClose();
    }
  }

  /** An instance open with at least this access. */
  private ready(access: Access, options: UseOptions): Promise<DuckDBInstance> {
    const step = this.transition.then(async () => {
      if (this.instance && (this.access === "write" || access === "read")) return this.instance;
      if (this.instance) {
        // Open for reading, needed for writing: wait until this process's readers are done.
        while (this.active > 0) await sleep(5);
        this.closeNow();
      }
      this.instance = await this.openWaiting(access, options);
      this.access = access;
      return this.instance;
    });
    this.transition = step.catch(() => undefined);
    return step;
  }

  private async openWaiting(access: Access, options: UseOptions): Promise<DuckDBInstance> {
    const started = Date.now();
    let delay = 5;
    let told = false;
    for (;;) {
      try {
        // One DuckDB thread: the store's work is small writes beside a model that wants the cores
        // (bench/eval-throughput).
        return await DuckDBInstance.create(this.file, access === "read" ? { access_mode: "READ_ONLY", threads: "1" } : { threads: "1" });
      } catch (e) {
        if (!isLockedError(e)) {
          if (isDamagedError(e)) throw damagedError(this.file, e);
          throw e;
        }
        const waited = Date.now() - started;
        if (waited >= options.waitMs) throw busyError(this.file, waited, e);
        if (!told && waited >= (options.noticeMs ?? 2000)) {
          told = true;
          const holder = lockHolder(e);
          options.onWait?.(`waiting for the store ${this.file}: another process is using it${holder ? ` (${holder})` : ""}`);
        }
        // Jittered backoff up to 100 ms: a writer holds the file for tens of ms at a time.
        await sleep(delay * (0.5 + Math.random()));
        delay = Math.min(100, delay * 2);
      }
    }
  }

  private scheduleClose(): void {
    if (this.idleMs <= 0) {
      this.closeWhenIdle();
      return;
    }
    this.timer = setTimeout(() => this.closeWhenIdle(), this.idleMs);
    this.timer.unref();
  }

  private closeWhenIdle(): void {
    this.timer = undefined;
    this.transition = this.transition.then(() => {
      if (this.users === 0) this.closeNow();
    });
  }

  private closeNow(): void {
    if (!this.instance) return;
    const instance = this.instance;
    this.instance = null;
    this.access = null;
    instance.closeSync();
  }

  /** Closes the file once every use in flight has finished. */
  async drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.writes;
    while (this.users > 0) await sleep(5);
    await this.transition;
    this.closeNow();
  }
}

const handles = new Map<string, FileHandle>();

/** The canonical name of a store file: the same file reached by two paths is one handle. */
function canonical(file: string): string {
  const abs = path.resolve(file);
  try {
    return realpathSync(abs);
  } catch {
    // Not created yet: canonicalise its folder.
    try {
      return path.join(realpathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

/** This process's handle on a file, shared by every Store of it. */
export function handleFor(file: string): FileHandle {
  const key = canonical(file);
  let h = handles.get(key);
  if (!h) {
    h = new FileHandle(key);
    handles.set(key, h);
  }
  return h;
}

/** This machine's name, as invocations record it. */
export const HOST = os.hostname();
