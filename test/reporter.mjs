/**
 * A short report of a node:test run, for people and for CI (`npm test` writes it to stdout, and
 * the full spec output to test-artifacts/test-output.txt for digging):
 *
 * - one line per test file as it finishes: ✔ or ✖, its path and how long it took;
 * - then every failing test: its file, line and name path, the error, and where it was thrown;
 * - then the counts, and the slowest files;
 * - and last a line `N passed, N failed`.
 *
 * Counted as failed: failing tests (timeouts included), tests cancelled (the before hook of their
 * suite failed, the file stopped early), a suite whose own code or after hook failed while its
 * tests passed, and a file that failed outside its tests (it crashed, or exited non-zero). The
 * runner's own summary counts cancelled and timed-out tests apart from failed ones ("fail 0,
 * cancelled 13" when Chromium is missing) and does not count a failed after hook at all; here all
 * are failures, and the exit code is 1 when anything failed.
 *
 * Plain JavaScript: node 20 loads reporters before tsx can compile TypeScript.
 */
import path from "node:path";

const MAX_MESSAGE_LINES = 20;
const MAX_STDERR_LINES = 30;

/** A path relative to the working directory, when it is inside it. */
function rel(file) {
  if (!file) return "?";
  const r = path.relative(process.cwd(), file.startsWith("file://") ? new URL(file).pathname : file);
  return r.startsWith("..") ? file : r;
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The error a test failed with: the runner wraps the thrown error (`cause`) in ERR_TEST_FAILURE. */
function thrown(error) {
  if (error && error.code === "ERR_TEST_FAILURE" && error.cause !== undefined) return error.cause;
  return error;
}

function messageOf(error) {
  const e = thrown(error);
  if (e === undefined || e === null) return "failed";
  if (typeof e !== "object") return String(e);
  const name = e.name && e.name !== "Error" ? `${e.name}: ` : "";
  let text = `${name}${e.message ?? String(e)}`;
  if (e.code && e.code !== "ERR_ASSERTION" && e.code !== "ERR_TEST_FAILURE") text += ` (${e.code})`;
  if (typeof e.hint === "string" && e.hint) text += `\nhint: ${e.hint}`;
  const lines = text.trimEnd().split("\n");
  if (lines.length > MAX_MESSAGE_LINES) return [...lines.slice(0, MAX_MESSAGE_LINES), `... (${lines.length - MAX_MESSAGE_LINES} more lines in the full output)`].join("\n");
  return lines.join("\n");
}

/**
 * Where the error was thrown: the first stack frame in the project (not node's internals, not
 * node_modules), as file:line:col, and the first frame in the test's own file when that is not it.
 */
function whereThrown(error, testFile) {
  const e = thrown(error);
  const stack = e && typeof e === "object" && typeof e.stack === "string" ? e.stack : "";
  const frames = [];
  for (const line of stack.split("\n")) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/u.exec(line.trim());
    if (!m || m[1].includes("/node_modules/")) continue;
    const file = m[1].startsWith("file://") ? new URL(m[1]).pathname : m[1];
    frames.push({ file, at: `${rel(file)}:${m[2]}:${m[3]}` });
  }
  if (frames.length === 0) return undefined;
  const inTest = testFile ? frames.find((f) => path.resolve(f.file) === path.resolve(testFile)) : undefined;
  return inTest && inTest !== frames[0] ? `${frames[0].at}, from ${inTest.at}` : frames[0].at;
}

const cancelledList = (names) => `${names.length} test(s) cancelled:\n${names.map((n) => `  - ${n}`).join("\n")}`;

const indent = (text, by = "   ") =>
  text
    .split("\n")
    .map((l) => (l.length > 0 ? by + l : l))
    .join("\n");

export default async function* compactReporter(source) {
  /** Per file: the names of the tests being reported, by nesting (to name a failure's path). */
  const stacks = new Map();
  /** Files seen (enqueued) and finished, in order. */
  const files = new Set();
  const finished = [];
  /** Per file: the last lines it wrote to stderr (shown when the file failed outside its tests). */
  const stderr = new Map();
  /** Per file: whether anything in it was counted as failed. */
  const failedIn = new Set();
  /** Cancelled tests waiting for their parent's reason (keyed by file and parent path). */
  const cancelled = new Map();
  const failures = [];
  const counts = { passed: 0, failed: 0, cancelled: 0, skipped: 0, todo: 0 };
  const summary = {};
  const started = Date.now();

  const isFileTest = (data) => data.nesting === 0 && data.file !== undefined && path.resolve(data.name) === path.resolve(data.file);
  const stackOf = (file) => {
    let s = stacks.get(file);
    if (!s) stacks.set(file, (s = []));
    return s;
  };
  const namePath = (data) => [...stackOf(data.file).slice(0, data.nesting), data.name].join(" › ");
  const parentKey = (data) => `${data.file}\0${stackOf(data.file).slice(0, data.nesting).join("\0")}`;
  const addFailure = (data, failure) => {
    failures.push({ ...failure, file: data.file, line: data.line, column: data.column });
    failedIn.add(data.file);
  };

  for await (const event of source) {
    const { type, data } = event;
    switch (type) {
      case "test:enqueue":
        if (isFileTest(data)) files.add(data.file);
        break;
      case "test:start":
        if (!isFileTest(data)) {
          const s = stackOf(data.file);
          s.length = data.nesting;
          s.push(data.name);
        }
        break;
      case "test:stderr": {
        const lines = stderr.get(data.file) ?? [];
        lines.push(...String(data.message).replace(/\n$/u, "").split("\n"));
        stderr.set(data.file, lines.slice(-MAX_STDERR_LINES));
        break;
      }
      case "test:complete":
        // Sent as each file finishes (the other events of a file may come later, in order).
        if (isFileTest(data)) {
          finished.push({ file: data.file, ms: data.details.duration_ms, passed: data.details.passed });
          const mark = data.details.passed ? "✔" : "✖";
          yield `${mark} [${finished.length}/${Math.max(files.size, finished.length)}] ${rel(data.file)}  ${seconds(data.details.duration_ms)}\n`;
        }
        break;
      case "test:pass":
        if (data.details.type === "suite" || isFileTest(data)) break;
        if (data.skip) counts.skipped++;
        else if (data.todo) counts.todo++;
        else counts.passed++;
        break;
      case "test:fail": {
        const error = data.details.error;
        const kind = error?.failureType;
        if (data.todo) {
          counts.todo++;
          break;
        }
        if (isFileTest(data)) {
          // The file failed outside its tests (it crashed, or exited non-zero) when none of its tests did.
          if (!failedIn.has(data.file)) {
            counts.failed++;
            const tail = (stderr.get(data.file) ?? []).filter((l) => !/^\s+at .*(node:internal|node_modules)/u.test(l));
            const how = error?.signal ? `killed by ${error.signal}` : error?.exitCode !== undefined && error.exitCode !== null ? `exit code ${error.exitCode}` : messageOf(error);
            const said = tail.length > 0 ? `\nits last lines on stderr:\n${indent(tail.join("\n"), "  ")}` : "";
            addFailure({ ...data, line: undefined }, { name: "(the file, outside its tests)", message: `the test process failed: ${how}${said}`, where: undefined });
          }
          break;
        }
        const own = [...stackOf(data.file).slice(0, data.nesting), data.name];
        const waiting = cancelled.get(`${data.file}\0${own.join("\0")}`) ?? [];
        cancelled.delete(`${data.file}\0${own.join("\0")}`);
        if (kind === "cancelledByParent") {
          // Named under the test or suite whose failure cancelled it, once that one is reported.
          if (data.details.type !== "suite") counts.cancelled++;
          const key = parentKey(data);
          cancelled.set(key, [...(cancelled.get(key) ?? []), ...(waiting.length > 0 ? waiting.map((w) => `${data.name} › ${w}`) : [data.name])]);
          failedIn.add(data.file);
          break;
        }
        const cancelledNote = waiting.length > 0 ? cancelledList(waiting) : "";
        if (kind === "subtestsFailed") {
          // Its own tests failed (they are listed on their own), or were cancelled.
          if (waiting.length > 0) addFailure(data, { name: namePath(data), message: cancelledNote, where: undefined });
          break;
        }
        if (data.details.type === "suite" || waiting.length > 0) {
          // A hook or the suite's own code failed; its tests that were cancelled are counted.
          const cause = thrown(error);
          const reason = cause !== error && cause?.message !== error?.message ? `${error?.message}: ${messageOf(error)}` : messageOf(error);
          if (waiting.length === 0) counts.failed++;
          addFailure(data, { name: namePath(data), message: waiting.length > 0 ? `${reason}\n${cancelledNote}` : reason, where: whereThrown(error, data.file) });
          break;
        }
        counts.failed++;
        addFailure(data, { name: namePath(data), message: messageOf(error), where: whereThrown(error, data.file) });
        break;
      }
      case "test:diagnostic": {
        const m = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/u.exec(data.message);
        if (m && data.nesting === 0) summary[m[1]] = Number(m[2]);
        break;
      }
      default:
        break;
    }
  }

  // Cancelled tests whose parent never reported (the file stopped): list them by parent.
  for (const [key, names] of cancelled) {
    const [file, ...parents] = key.split("\0");
    failures.push({ file, line: undefined, column: undefined, name: parents.join(" › ") || "(top level)", message: cancelledList(names), where: undefined });
  }

  const failed = counts.failed + counts.cancelled;
  let out = "\n";
  if (failures.length > 0) {
    out += `Failures (${failures.length}):\n\n`;
    failures.forEach((f, i) => {
      const at = f.line === undefined ? rel(f.file) : `${rel(f.file)}:${f.line}:${f.column}`;
      out += `${i + 1}) ${at}\n   ${f.name}\n${indent(f.message)}\n`;
      if (f.where && f.where !== at) out += `   at ${f.where}\n`;
      out += "\n";
    });
  }
  const total = counts.passed + failed + counts.skipped + counts.todo;
  const duration = summary.duration_ms ?? Date.now() - started;
  out += `${total} tests in ${Math.max(files.size, finished.length) || 1} file(s): ${counts.passed} passed, ${counts.failed} failed, ${counts.cancelled} cancelled (counted as failed), ${counts.skipped} skipped, ${counts.todo} todo; ${seconds(duration)}\n`;
  if (finished.length > 1) {
    const slowest = [...finished].sort((a, b) => b.ms - a.ms).slice(0, 5);
    out += `slowest files: ${slowest.map((f) => `${rel(f.file)} ${seconds(f.ms)}`).join(", ")}\n`;
  }
  if (process.env.CIVITAS_TEST_LOG) out += `full output: ${process.env.CIVITAS_TEST_LOG}\n`;
  out += `${counts.passed} passed, ${failed} failed\n`;
  if (failed > 0 || failures.length > 0) process.exitCode = 1;
  yield out;
}
