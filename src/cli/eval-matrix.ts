/**
 * `civitas eval` with several models or suites (or --config, --dry-run, --html): every
 * (model x suite x seed) cell is an ordinary run (eval-cell.ts: the same id, store and resume as a
 * single `civitas eval`), and the output is their comparison (config/compare.ts).
 *
 * Cells on the same backend run one after another (one llama.cpp model in this process at a time;
 * one server at its own --concurrency); cells on different backends (a local model and a server,
 * or two servers) run side by side. A failing cell does not stop the others: its error is printed
 * as it happens, the comparison shows the rest, and the exit code is 1 naming the failed cells.
 *
 * How the command line and the file combine (docs/config.md): positional suites and --model
 * choose which suites and models run (a name the file has keeps its settings there); every other
 * flag given on the command line wins over the file; in the file a model's or suite's own key wins
 * over the top-level one; then the flags' defaults.
 */
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { compareCells, costOf, countLlamaTokens, estimateTokens, loadConfig, type CellOutcome, type EvalConfig, type ModelEntry, type SuiteEntry, type TokenCount } from "../config/index.js";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import { redactUrls } from "../redact.js";
import { comparePage, formatComparison, formatTable, matrixPage, reportDocument, runPage, type Page } from "../report/index.js";
import { dryRun, runConfig, runEval, runId } from "../runs/index.js";
import { checkResult, resultJson } from "../results/index.js";
import { fileKind, Store } from "../store/index.js";
import { splitPopulationList, type Question } from "../surveys/index.js";
import { jsonErrorLine, openStore, printErr, printOut, reportError, storePath, toJson, usageError } from "./common.js";
import { cellEvents, prepareCell, type CellFlags, type EvalFlags, type PopulationRule, type PreparedCell, type SuiteCache } from "./eval-cell.js";
import { onInterrupt } from "./interrupt.js";
import { checkOutputFile } from "./output.js";
import { createProgress, type Progress, type ProgressMode } from "./progress.js";
import { queueSecrets } from "./queue.js";

/** Whether the command is a comparison (several models or suites, a config, a dry run, an HTML file) rather than one run. */
export function isMatrix(suiteArg: string | undefined, flags: EvalFlags): boolean {
  return flags.config !== undefined || flags.dryRun === true || flags.html !== undefined || (flags.model?.length ?? 0) > 1 || (suiteArg?.includes(",") ?? false);
}

interface Cell {
  readonly index: number;
  readonly suite: string;
  /** How the comparison names the model. */
  readonly label: string;
  readonly seed: number;
  readonly flags: CellFlags;
  readonly rule: PopulationRule;
  readonly price?: { readonly input: number; readonly output: number };
  /** Cells of one lane run one after another; lanes run side by side. */
  readonly lane: string;
  /** The environment variable the config names for the key, when it is not set (the cell fails, the others run). */
  readonly missingKey?: string;
  /** The config file, when the model comes from it rather than from --model. */
  readonly namedIn?: string;
}

const list = (v: string | readonly string[] | undefined): string[] | undefined => (v === undefined ? undefined : typeof v === "string" ? [v] : [...v]);

/** Backends that are a server: cells on the same server share a lane. */
const SERVERS = new Set(["openai", "ollama", "vllm"]);

function laneOf(model: string, flags: CellFlags): string {
  const backend = model.slice(0, Math.max(0, model.indexOf(":")));
  if (backend === "llama") return "llama.cpp in this process";
  if (SERVERS.has(backend)) return `server ${flags.baseUrl ?? backend}`;
  return model;
}

/** The cells of the command: models x suites x seeds, each with its flags (see the module comment for the precedence). */
export function buildCells(suiteArg: string | undefined, flags: EvalFlags, command: Pick<Command, "getOptionValueSource">, config: EvalConfig | undefined): Cell[] {
  const fromCli = (key: keyof EvalFlags): boolean => {
    const source = command.getOptionValueSource(key);
    return source === "cli" || source === "env";
  };
  // Suites: the positional list (each keeping the file's settings when the file has it), else the file's.
  const fileSuites = new Map((config?.suites ?? []).map((s) => [typeof s === "string" ? s : s.name, s]));
  const suiteNames = suiteArg ? suiteArg.split(",").map((s) => s.trim()).filter(Boolean) : [...fileSuites.keys()];
  if (suiteNames.length === 0) throw usageError("name the survey to ask, e.g. civitas eval opinionqa --model ...", "or list suites in the --config file");
  const suiteEntries: SuiteEntry[] = suiteNames.map((n) => fileSuites.get(n) ?? n);
  if (fromCli("data") && suiteEntries.length > 1) {
    throw usageError("--data names the files of one survey; with several suites give each its data in a --config file", "suites:\n  - name: opinionqa\n    data: ../data/opinionqa");
  }
  // Models: every --model (each keeping the file's settings when the file names it), else the file's.
  const fileModels: ModelEntry[] = (config?.models ?? []).map((m) => (typeof m === "string" ? { model: m } : m));
  const modelEntries: ModelEntry[] = flags.model?.length ? flags.model.map((m) => fileModels.find((e) => e.name === m || e.model === m) ?? { model: m }) : fileModels;
  if (modelEntries.length === 0) throw usageError("--model is required", "for example --model llama:path/to/model.gguf, or list models in the --config file");
  const seeds = fromCli("seed") ? [flags.seed] : (config?.seeds ?? [config?.seed ?? flags.seed]);

  const labels = modelEntries.map((m) => m.name ?? m.model);
  const uniqueLabels = labels.map((l, i) => (labels.indexOf(l) === i ? l : `${l} #${labels.slice(0, i + 1).filter((x) => x === l).length}`));
  const cells: Cell[] = [];
  for (const s of suiteEntries) {
    for (const [mi, m] of modelEntries.entries()) {
      for (const seed of seeds) {
        const f: Record<string, unknown> = { ...flags };
        const apply = (key: keyof EvalFlags, value: unknown) => {
          if (value !== undefined && !fromCli(key)) f[key] = value;
        };
        // The file's top level, then the suite's and the model's own keys.
        if (config) {
          apply("populations", list(config.populations)?.flatMap(splitPopulationList));
          apply("limit", config.limit);
          apply("method", list(config.methods)?.flatMap((x) => x.split(",")));
          apply("samples", config.samples);
          apply("constrain", config.constrain);
          apply("persona", config.persona);
          apply("personaIn", config["persona-in"]);
          apply("variants", config.variants);
          apply("protocol", config.protocol);
          apply("metric", config.metric);
          apply("minCoverage", config["min-coverage"]);
          apply("resamples", config.resamples);
          apply("system", config.system);
          apply("store", config.store);
          apply("cacheDir", config["cache-dir"]);
        }
        if (typeof s !== "string") {
          apply("data", s.data);
          apply("prompts", s.prompts);
          apply("populations", list(s.populations)?.flatMap(splitPopulationList));
          apply("limit", s.limit);
        }
        apply("threads", m.threads);
        apply("parallel", m.parallel);
        apply("contextSize", m["context-size"]);
        apply("gpu", m.gpu);
        apply("chatTemplate", m["chat-template"]);
        apply("system", m.system);
        apply("baseUrl", m["base-url"]);
        apply("concurrency", m.concurrency);
        apply("timeout", m.timeout);
        apply("retries", m.retries);
        apply("api", m.api);
        apply("modelId", m["model-id"]);
        apply("reasoning", m.reasoning);
        let missingKey: string | undefined;
        if (m["api-key-env"] !== undefined && !fromCli("apiKey")) {
          const key = process.env[m["api-key-env"]];
          if (key) f.apiKey = key;
          else missingKey = m["api-key-env"];
        }
        f.seed = seed;
        const cellFlags = { ...(f as unknown as EvalFlags), model: m.model } as CellFlags;
        const suiteName = typeof s === "string" ? s : s.name;
        // One list for several suites: each takes those it has; a suite's own list, or one suite, is strict.
        const ownPopulations = typeof s !== "string" && s.populations !== undefined && !fromCli("populations");
        cells.push({
          index: cells.length,
          suite: suiteName,
          label: seeds.length > 1 ? `${uniqueLabels[mi]!} seed ${seed}` : uniqueLabels[mi]!,
          seed,
          flags: cellFlags,
          rule: suiteEntries.length > 1 && !ownPopulations ? "each-suite-its-own" : "strict",
          ...(m.price ? { price: m.price } : {}),
          lane: laneOf(m.model, cellFlags),
          ...(missingKey ? { missingKey } : {}),
          // The model string as typed on the command line is the user's own; one read from the file is not.
          ...(flags.config && !flags.model?.includes(m.model) ? { namedIn: flags.config } : {}),
        });
      }
    }
  }
  return cells;
}

/** A stream for a cell's progress lines when cells run side by side: each line names its cell. */
function taggedStream(tag: string): NodeJS.WriteStream {
  return { isTTY: false, write: (s: string) => process.stderr.write(s.replace(/^(?=.)/gmu, `[${tag}] `)) } as unknown as NodeJS.WriteStream;
}

const fmt = (x: number) => x.toLocaleString("en-US");

/** `--dry-run`: per cell, what would be asked and what is stored; asks nothing, writes nothing. */
async function dryRunCells(cells: readonly Cell[], storeFlag: string | undefined, o: { json: boolean; mode: ProgressMode; log: (m: string) => void; scrub: (s: string) => string }): Promise<number> {
  const file = storePath(storeFlag);
  const kind = await fileKind(file).catch(() => "missing" as const);
  // No store yet: nothing is stored. Never create one for a dry run.
  const store = kind === "missing" || kind === "empty" ? undefined : await Store.open(file, { readOnly: true });
  const suites: SuiteCache = new Map();
  const quiet = createProgress("none");
  const rows: Record<string, unknown>[] = [];
  let failed = 0;
  try {
    for (const cell of cells) {
      try {
        const p = await prepareCell(cell.suite, cell.flags, { log: o.log, progress: quiet, suites, populations: cell.rule, ...(cell.namedIn ? { namedIn: cell.namedIn } : {}) });
        const d = await dryRun(store, p.plan);
        const target = cell.flags.model.slice(cell.flags.model.indexOf(":") + 1);
        let tokens: TokenCount;
        if (p.model.backend === "llama" && !target.startsWith("hf:")) {
          tokens = d.toAsk.length === 0 ? { prompt: 0, counted: "tokenizer", outputMax: 0 } : await countLlamaTokens(target, d.toAsk, p.model.chatTemplate !== undefined && p.model.chatTemplate !== null);
        } else {
          tokens = estimateTokens(d.toAsk);
        }
        rows.push({
          model: cell.label,
          suite: cell.suite,
          seed: cell.seed,
          run: d.runId,
          answers: d.total,
          stored: d.stored,
          cached: d.cached,
          to_ask: d.toAsk.length,
          prompt_tokens: tokens.prompt,
          tokens_counted: tokens.counted,
          output_tokens_max: tokens.outputMax,
          cost: cell.price ? costOf(tokens, cell.price) : null,
          error: null,
        });
      } catch (e) {
        failed++;
        const message = o.scrub(messageOf(e));
        rows.push({ model: cell.label, suite: cell.suite, seed: cell.seed, run: null, error: message });
        if (o.json) process.stderr.write(jsonErrorLine({ kind: isCivitasError(e) ? e.kind : "bug", message: `${cell.label} x ${cell.suite}: ${message}`, hint: undefined, exitCode: 1 }));
        else printErr(`error: ${cell.label} x ${cell.suite}: ${message}\n`);
      }
    }
  } finally {
    await store?.close();
  }
  const priced = rows.filter((r) => typeof r.cost === "number");
  const total = priced.length > 0 ? priced.reduce((s, r) => s + (r.cost as number), 0) : null;
  if (o.json) {
    printOut(`${toJson({ kind: "dry_run", store: file, cells: rows, cost: total, chars_per_token_estimate: 4 })}\n`);
  } else {
    const ok = rows.filter((r) => r.error === null);
    printOut(
      `${formatTable(
        ["model", "suite", "run", "answers", "stored", "cached", "to ask", "prompt tokens", "output tokens (at most)", "cost"],
        ok.map((r) => [
          String(r.model),
          String(r.suite),
          String(r.run),
          fmt(r.answers as number),
          fmt(r.stored as number),
          fmt(r.cached as number),
          fmt(r.to_ask as number),
          `${r.tokens_counted === "estimate" ? "~" : ""}${fmt(r.prompt_tokens as number)}`,
          fmt(r.output_tokens_max as number),
          typeof r.cost === "number" ? (r.cost as number).toFixed(4) : "-",
        ]),
        ["l", "l", "l", "r", "r", "r", "r", "r", "r", "r"],
      )}\n` +
        `dry run: nothing was asked. "to ask" counts model requests (identical prompts are asked once); "stored": answers this run already has in ${file}; "cached": answers other runs' identical requests give.\n` +
        `prompt tokens: counted with the model's tokenizer for local llama models, ~ estimated (4 characters per token) otherwise; cost (where the config gives a price per million tokens) takes output tokens at their maximum.` +
        (total !== null ? `\ntotal cost: ${total.toFixed(4)}` : "") +
        "\n",
    );
  }
  return failed > 0 ? 1 : 0;
}

/** Runs every cell and prints their comparison; see the module comment. */
export async function runMatrix(suiteArg: string | undefined, flags: EvalFlags, command: Pick<Command, "getOptionValueSource">): Promise<number> {
  const mode: ProgressMode = flags.json && flags.progress === "auto" && !process.stderr.isTTY ? "none" : flags.progress;
  const log = mode === "none" ? () => undefined : (m: string) => printErr(`${m}\n`);
  const secrets = [flags.apiKey ?? "", process.env.OPENAI_API_KEY ?? "", ...queueSecrets(flags.queue)];
  const scrub = (s: string) => redactUrls(secrets.reduce((acc, k) => (k ? acc.split(k).join("***") : acc), s));
  const interrupt = onInterrupt(log, "finishing the answers in flight and saving");
  let store: Store | undefined;
  try {
    const config = flags.config ? await loadConfig(flags.config) : undefined;
    for (const m of config?.models ?? []) if (typeof m !== "string" && m["api-key-env"]) secrets.push(process.env[m["api-key-env"]] ?? "");
    const cells = buildCells(suiteArg, flags, command, config);
    const storeFlag = command.getOptionValueSource("store") === "cli" ? flags.store : (config?.store ?? flags.store);
    if (flags.dryRun) return await dryRunCells(cells, storeFlag, { json: flags.json ?? false, mode, log, scrub });
    if (flags.html !== undefined) await checkOutputFile(flags.html, "html", { flag: "--html", force: flags.force ?? false, store: storePath(storeFlag) });
    const opened = await openStore(storeFlag, { log });
    store = opened;
    const suites: SuiteCache = new Map();
    const questions = new Map<string, Map<string, Question>>();
    const outcomes: CellOutcome[] = [];
    const errors: unknown[] = [];
    // Every cell is prepared first (model parsed, not loaded; suite loaded once; run planned), so
    // that a cell that cannot run fails before any runs, and two cells that are the same run (the
    // same model identity, suite and settings) are not run twice at once.
    const prepared = new Map<number, PreparedCell>();
    const sameRun = new Map<string, string>();
    const failCell = (cell: Cell, e: unknown): CellOutcome => {
      errors.push(e);
      cellError(`${cell.label} x ${cell.suite}`, e);
      return { suite: cell.suite, model: cell.label, seed: cell.seed, status: "failed", error: scrub(messageOf(e)) };
    };
    // A cell's error when it happens: text, or (--json) one JSON line on stderr as every command's errors.
    const cellError = (name: string, e: unknown) => {
      const hint = isCivitasError(e) && e.hint ? scrub(e.hint) : undefined;
      if (flags.json) process.stderr.write(jsonErrorLine({ kind: isCivitasError(e) ? e.kind : "bug", message: `${name}: ${scrub(messageOf(e))}`, hint, exitCode: 1 }));
      else printErr(`error: ${name}: ${scrub(messageOf(e))}${hint ? `\n  ${hint.replace(/\n/gu, "\n  ")}` : ""}\n`);
    };
    const logOnly: Progress = { start() {}, update() {}, modelReady() {}, log, stop() {} };
    for (const cell of cells) {
      const name = `${cell.label} x ${cell.suite}`;
      try {
        if (cell.missingKey) {
          throw new CivitasError("usage", `the environment variable ${cell.missingKey} (api-key-env of ${cell.label}) is not set`, { hint: `export ${cell.missingKey}=... before running` });
        }
        const p = await prepareCell(cell.suite, cell.flags, { log, progress: logOnly, suites, populations: cell.rule, ...(cell.namedIn ? { namedIn: cell.namedIn } : {}) });
        questions.set(cell.suite, new Map(p.suite.questions.map((q) => [q.id, q])));
        const id = runId(runConfig(p.plan));
        const twin = sameRun.get(id);
        if (twin !== undefined) {
          throw usageError(`the same run as ${twin} (run ${id}): the same model identity, suite and settings`, "a server's model is identified by its name, whatever URL serves it: give one of them its own model-id");
        }
        sameRun.set(id, name);
        prepared.set(cell.index, p);
      } catch (e) {
        outcomes[cell.index] = failCell(cell, e);
      }
    }
    const lanes = new Map<string, Cell[]>();
    for (const c of cells) if (prepared.has(c.index)) lanes.set(c.lane, [...(lanes.get(c.lane) ?? []), c]);
    const sideBySide = lanes.size > 1;
    if (sideBySide) log(`${prepared.size} runs on ${lanes.size} backends side by side: ${[...lanes.keys()].join("; ")}`);

    const runCell = async (cell: Cell, p: PreparedCell): Promise<CellOutcome> => {
      const name = `${cell.label} x ${cell.suite}`;
      const base = { suite: cell.suite, model: cell.label, seed: cell.seed };
      if (interrupt.interrupted) return { ...base, status: "failed", error: "interrupted before it started" };
      const progress = sideBySide ? createProgress(mode === "none" ? "none" : "lines", taggedStream(name)) : createProgress(mode);
      log(`run ${cell.index + 1} of ${cells.length}: ${name}`);
      try {
        const result = await runEval(opened, p.plan, cellEvents(progress, interrupt.signal, flags.queue));
        progress.stop();
        return { ...base, status: "done", run: result.run, result };
      } catch (e) {
        progress.stop();
        return failCell(cell, e);
      }
    };
    await Promise.all(
      [...lanes.values()].map(async (laneCells) => {
        for (const cell of laneCells) outcomes[cell.index] = await runCell(cell, prepared.get(cell.index)!);
      }),
    );

    const comparison = await compareCells(opened, outcomes, {
      seed: cells[0]?.seed ?? 0,
      ...(flags.resamples ? { resamples: flags.resamples } : {}),
      questions: (suite) => questions.get(suite),
    });
    checkResult("comparison", comparison);
    if (flags.json) printOut(`${toJson(resultJson("comparison", comparison))}\n`);
    else printOut(`${formatComparison(comparison)}\n`);

    if (flags.html !== undefined) {
      const pages: Page[] = [matrixPage(comparison)];
      for (const s of comparison.suites) {
        if (s.models.length >= 2) pages.push({ ...(await comparePage(opened, s.models.map((m) => m.run))), title: `${s.suite}: the runs side by side` });
      }
      for (const c of outcomes) {
        if (c.status !== "done" || !c.run) continue;
        const data = cells[outcomes.indexOf(c)]?.flags.data;
        pages.push(await runPage(opened, c.run, data === undefined ? {} : { data }));
      }
      try {
        await writeFile(flags.html, reportDocument(pages, { title: `civitas eval: ${comparison.suites.map((s) => s.suite).join(", ")}` }));
      } catch (e) {
        throw new CivitasError("input", `could not write ${flags.html}: ${messageOf(e)}`, { cause: e });
      }
      log(`wrote the comparison (${pages.length} pages) to ${flags.html}`);
    }
    if (interrupt.interrupted) return 130;
    if (comparison.failed.length > 0) {
      // Every run refused for the same kind of reason as a wrong command line: a usage error.
      const code = errors.length === cells.length && errors.every((e) => isCivitasError(e) && e.kind === "usage") ? 2 : 1;
      const message = `${comparison.failed.length} of ${cells.length} runs failed: ${comparison.failed.join("; ")}`;
      if (flags.json) process.stderr.write(jsonErrorLine({ kind: "failed", message, hint: "the others are compared on stdout; run the same command again to resume", exitCode: code }));
      else printErr(`error: ${message}\n`);
      return code;
    }
    return 0;
  } catch (e) {
    return reportError(e, secrets, interrupt.interrupted ? 130 : undefined);
  } finally {
    interrupt.dispose();
    await store?.close();
  }
}
