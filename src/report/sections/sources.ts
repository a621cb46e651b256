/**
 * Where a report finds what a run's summary does not hold: question texts and human shares.
 *
 * A run stores its answers, per-question scores and prompts, but not the survey: its config names
 * the suite and the fingerprint (a hash) of the data files it was scored against. So:
 *
 * - **Human shares** (the per-question scatter, an opinion simulation's human distribution) come
 *   from the survey itself, loaded from a local copy: the `data` option (`civitas report --data
 *   DIR`), else the `--data` the run's recorded command named (an eval run) or the scenario file's
 *   `survey.data` (a simulation), when that path still exists from the current folder. The copy is
 *   used only if its fingerprint equals the run's: other data would draw numbers the run was not
 *   scored on. Nothing is downloaded.
 * - **Question texts** come from that survey when it is loaded, and otherwise from the prompts the
 *   run sent (the requests table): the text before the first option line.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { messageOf } from "../../errors.js";
import type { RunRow, Store } from "../../store/index.js";
import { findSuite, type Suite } from "../../surveys/index.js";

export interface SuiteSource {
  /** A local copy of the survey to read human shares and question texts from. */
  readonly data?: string;
  /** The survey already loaded (library callers); used when its name and fingerprint match. */
  readonly suite?: Suite;
}

export interface ResolvedSuite {
  readonly suite: Suite | null;
  /** Why there is no suite, or where it came from, for the page. */
  readonly note: string;
}

/** The `--data` value of a recorded command line, if any. */
export function dataFlagOf(command: string): string | undefined {
  const m = /(?:^|\s)--data(?:=|\s+)("(?:[^"\\]|\\.)*"|\S+)/u.exec(command);
  if (!m) return undefined;
  const v = m[1]!;
  if (v.startsWith('"')) {
    try {
      return JSON.parse(v) as string;
    } catch {
      return v.slice(1, -1);
    }
  }
  return v;
}

const loaded = new Map<string, Promise<Suite>>();

/** Loads a suite from a local copy, once per (suite, folder) in this process. */
function loadOnce(name: string, data: string): Promise<Suite> {
  const key = `${name}\u0000${path.resolve(data)}`;
  let p = loaded.get(key);
  if (!p) {
    p = findSuite(name).load({ data });
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

/**
 * The survey a run was scored on, from `source` or the path the run recorded (see the module
 * comment). `fallback` is the recorded path, tried only when it exists.
 */
export async function resolveSuite(name: string, fingerprint: string | null, source: SuiteSource, fallback: string | undefined): Promise<ResolvedSuite> {
  const matches = (s: Suite) => s.name === name && (fingerprint === null || s.fingerprint === fingerprint);
  if (source.suite) {
    if (matches(source.suite)) return { suite: source.suite, note: `survey data: ${source.suite.location}` };
    return { suite: null, note: `the survey given is not the data this run was scored on (suite ${source.suite.name}, fingerprint differs)` };
  }
  const candidates: { path: string; how: string }[] = [];
  if (source.data !== undefined) candidates.push({ path: source.data, how: "--data" });
  else if (fallback !== undefined && existsSync(fallback)) candidates.push({ path: fallback, how: "the path the run recorded" });
  if (candidates.length === 0) {
    return {
      suite: null,
      note:
        fallback === undefined
          ? "human shares need the survey's data: pass --data with a local copy of it"
          : `human shares need the survey's data: the run read ${fallback}, which is not there from here; pass --data`,
    };
  }
  const c = candidates[0]!;
  let suite: Suite;
  try {
    suite = await loadOnce(name, c.path);
  } catch (e) {
    return { suite: null, note: `could not load ${name} from ${c.path} (${c.how}): ${messageOf(e)}` };
  }
  if (!matches(suite)) {
    return { suite: null, note: `${c.path} (${c.how}) is not the data this run was scored on (its fingerprint differs), so human shares are left out` };
  }
  return { suite, note: `survey data: ${suite.location}` };
}

/** The suite of an eval run (see the module comment). */
export function resolveRunSuite(run: RunRow, source: SuiteSource): Promise<ResolvedSuite> {
  const config = (run.config ?? {}) as { suite?: unknown; data?: unknown };
  const name = typeof config.suite === "string" ? config.suite : run.suite;
  const fingerprint = typeof config.data === "string" ? config.data : null;
  const recorded = dataFlagOf(run.command);
  return resolveSuite(name, fingerprint, source, recorded);
}

/**
 * The question's text as the model read it: the prompt up to its first option line ("A. Very
 * safe"), without a persona paragraph and without the template's "Question:" lead.
 */
export function questionFromPrompt(prompt: string, options: readonly string[]): string {
  const lines = prompt.split("\n");
  const isOption = (line: string) => options.some((o) => o !== "" && new RegExp(`^\\(?[A-Za-z0-9]{1,3}[.)]\\s+${escapeRegExp(o)}\\s*$`, "u").test(line));
  const first = lines.findIndex(isOption);
  let head = (first < 0 ? lines : lines.slice(0, first)).join("\n");
  const q = head.lastIndexOf("Question:");
  if (q >= 0) head = head.slice(q + "Question:".length);
  head = head.replace(/\n\s*Options:\s*$/u, "");
  const paragraphs = head.split(/\n\s*\n/u).map((p) => p.trim()).filter(Boolean);
  // The question is the last paragraph before the options (a persona or instruction comes first).
  return (paragraphs[paragraphs.length - 1] ?? head).replace(/\s+/gu, " ").trim();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");
}

/** Question texts of a run, from its prompts (one per question: the first answer's request). */
export async function questionTextsFromPrompts(store: Store, answers: readonly { questionId: string; requestKey: string; options: readonly string[]; persona: string }[]): Promise<Map<string, string>> {
  const first = new Map<string, { key: string; options: readonly string[] }>();
  for (const a of answers) if (!first.has(a.questionId) && a.persona === "none") first.set(a.questionId, { key: a.requestKey, options: a.options });
  for (const a of answers) if (!first.has(a.questionId)) first.set(a.questionId, { key: a.requestKey, options: a.options });
  const requests = await store.lookupRequests([...new Set([...first.values()].map((f) => f.key))]);
  const out = new Map<string, string>();
  for (const [q, f] of first) {
    const r = requests.get(f.key);
    if (r) out.set(q, questionFromPrompt(r.prompt, f.options));
  }
  return out;
}
