/**
 * Progress of a long run on stderr: a bar with rate and ETA on a terminal, a line every few
 * seconds when stderr is a file or pipe (CI logs), or nothing at all (`none`: no progress and
 * no status notes; errors still print).
 */
import cliProgress from "cli-progress";
import type { EvalProgress } from "../runs/index.js";
import { terminalSafe } from "../terminal.js";

export type ProgressMode = "auto" | "bar" | "lines" | "none";

export interface Progress {
  start(total: number, done: number): void;
  update(p: EvalProgress): void;
  /**
   * The model is loaded: the rate (and so the ETA) is measured from now, so that the time the
   * model took to load is not counted as time spent answering.
   */
  modelReady(): void;
  /** Prints a message without breaking the bar. */
  log(message: string): void;
  stop(): void;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * Answers per second since the clock started (the first sample, or `restart` when the model is
 * ready), and the time left at that rate.
 */
class Rate {
  private t0: number | null = null;
  private base = 0;
  private lastDone = 0;
  constructor(private readonly now: () => number) {}
  /** Measures from now, counting only what is done from here on. */
  restart(): void {
    this.t0 = this.now();
    this.base = this.lastDone;
  }
  sample(p: EvalProgress): { rate: number; eta: string } {
    const now = this.now();
    this.lastDone = p.done;
    if (this.t0 === null) {
      this.t0 = now;
      this.base = p.done;
      return { rate: 0, eta: "?" };
    }
    const seconds = (now - this.t0) / 1000;
    const rate = seconds > 0 ? (p.done - this.base) / seconds : 0;
    return { rate, eta: rate > 0 ? eta((p.total - p.done) / rate) : "?" };
  }
}

export interface ProgressOptions {
  /** Milliseconds of a monotonic clock (default performance.now); tests give their own. */
  readonly now?: () => number;
}

/** `unit`: what is counted ("answers" for eval, "simulations" for simulate). */
export function createProgress(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr, unit = "answers", options: ProgressOptions = {}): Progress {
  const effective = mode === "auto" ? (stream.isTTY ? "bar" : "lines") : mode;
  if (effective === "none") {
    return { start() {}, update() {}, modelReady() {}, log() {}, stop() {} };
  }
  const now = options.now ?? (() => performance.now());
  const rate = new Rate(now);
  if (effective === "lines") {
    const interval = Number(process.env.CIVITAS_PROGRESS_INTERVAL_MS ?? 5000);
    let last = 0;
    let lastDone = -1;
    const print = (p: EvalProgress) => {
      const r = rate.sample(p);
      stream.write(`${unit === "answers" ? "answered" : `${unit}:`} ${p.done}/${p.total} (${p.modelCalls} model calls, ${p.cacheHits} from cache) ${r.rate.toFixed(1)}/s ETA ${r.eta}\n`);
      lastDone = p.done;
    };
    let latest: EvalProgress | null = null;
    return {
      start() {},
      update(p) {
        latest = p;
        const t = now();
        if (t - last >= interval) {
          last = t;
          print(p);
        } else {
          rate.sample(p);
        }
      },
      modelReady: () => rate.restart(),
      log: (m) => stream.write(`${terminalSafe(m, { multiline: true })}\n`),
      stop() {
        if (latest && latest.done !== lastDone) print(latest);
      },
    };
  }
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: `{bar} {value}/{total} ${unit} | {rate}/s | ETA {myEta} | {calls} model calls, {hits} cached`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(total, done) {
      bar = multi.create(total, done, { rate: "0.0", myEta: "?", calls: 0, hits: 0 });
    },
    update(p) {
      const r = rate.sample(p);
      bar?.update(p.done, { rate: r.rate.toFixed(1), myEta: r.eta, calls: p.modelCalls, hits: p.cacheHits });
    },
    modelReady: () => rate.restart(),
    log(message) {
      const m = terminalSafe(message, { multiline: true });
      if (bar) multi.log(`${m}\n`);
      else stream.write(`${m}\n`);
    },
    stop() {
      multi.stop();
      bar = null;
    },
  };
}
