/**
 * The progress display's rate and ETA count answering, not loading the model: the first ETA of a
 * run whose model takes minutes to load is the time its answers take, not minutes. A given clock
 * (milliseconds) stands in for time, so nothing here depends on how fast the machine is.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createProgress } from "../../src/cli/progress.js";

/** A stream that keeps what is written (not a terminal: the "lines" display). */
function sink(): NodeJS.WriteStream & { text: string } {
  const s = { text: "", isTTY: false, write: (chunk: string) => ((s.text += chunk), true) };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

const progress = (done: number) => ({ total: 8, done, modelCalls: done, cacheHits: 0 });

describe("progress ETA", () => {
  it("starts measuring when the model is ready", () => {
    process.env.CIVITAS_PROGRESS_INTERVAL_MS = "0";
    let t = 0;
    const out = sink();
    const p = createProgress("lines", out, "answers", { now: () => t });
    p.start(8, 0);
    p.update(progress(0)); // planned, nothing answered: the model starts loading
    t = 240_000; // four minutes of loading
    p.modelReady();
    t = 241_000;
    p.update(progress(1)); // one answer a second: 7 left
    t = 242_000;
    p.update(progress(2));
    p.stop();
    const lines = out.text.trim().split("\n");
    assert.match(lines[1]!, /^answered 1\/8 .* 1\.0\/s ETA 7s$/u);
    assert.match(lines[2]!, /^answered 2\/8 .* 1\.0\/s ETA 6s$/u);
  });

  it("without a model to load (all from the cache) measures from the first update", () => {
    process.env.CIVITAS_PROGRESS_INTERVAL_MS = "0";
    let t = 0;
    const out = sink();
    const p = createProgress("lines", out, "answers", { now: () => t });
    p.update(progress(0));
    t = 2000;
    p.update(progress(4));
    assert.match(out.text.trim().split("\n")[1]!, /^answered 4\/8 .* 2\.0\/s ETA 2s$/u);
  });
});
