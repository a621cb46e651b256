/**
 * The viewer's hold on the store: opened read-only when a request needs it, shared by the
 * requests in flight, and closed again after a short idle time.
 *
 * DuckDB lets one process write a file or any number read it, never both: a viewer that kept the
 * store open would stop every `civitas eval` until it was stopped. Holding it only while pages
 * are being served lets a run start between two page loads, and each reopening sees the runs
 * written since. While a writer holds the file, `use` fails with the store's "in use" error.
 */
import { Store } from "../store/index.js";

export class StoreLease {
  private store: Store | undefined;
  private opening: Promise<Store> | undefined;
  private closing: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  /**
   * @param file the store's path (opened read-only, never created)
   * @param idleMs how long the store stays open after the last request (0: closed at once)
   */
  constructor(
    readonly file: string,
    private readonly idleMs: number,
  ) {}

  /** Runs `fn` with the store open; the store stays open until `fn` settles. */
  async use<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    if (this.ended) throw new Error("the viewer is stopped");
    this.inFlight++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const store = await this.acquire();
      return await fn(store);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.scheduleClose();
    }
  }

  /** Whether the store is open now (for tests). */
  get isOpen(): boolean {
    return this.store !== undefined;
  }

  private async acquire(): Promise<Store> {
    if (this.store) return this.store;
    if (!this.opening) {
      this.opening = (async () => {
        await this.closing;
        try {
          const store = await Store.open(this.file, { readOnly: true });
          this.store = store;
          return store;
        } finally {
          this.opening = undefined;
        }
      })();
    }
    return this.opening;
  }

  private scheduleClose(): void {
    if (this.idleMs <= 0) {
      this.release();
      return;
    }
    this.timer = setTimeout(() => this.release(), this.idleMs);
    this.timer.unref();
  }

  private release(): void {
    this.timer = undefined;
    if (this.inFlight > 0 || !this.store) return;
    const store = this.store;
    this.store = undefined;
    this.closing = store.close().catch(() => undefined);
  }

  /** Closes the store once the requests in flight have finished; later `use` calls fail. */
  async end(): Promise<void> {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight > 0 || this.opening) await new Promise((r) => setTimeout(r, 10));
    this.release();
    await this.closing;
  }
}
