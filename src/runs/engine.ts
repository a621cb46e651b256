/**
 * `civitas eval`'s run, in three stages (src/runs/stages/):
 *
 * plan:    questions x variants x personas x methods, each rendered to a prompt and keyed by a
 *          hash of everything that determines the model's answer; the run's id is a hash of its
 *          configuration, so the same command finds the same run and resumes it.
 * execute: answers already stored for this run are kept; prompts in the request cache are
 *          answered from it; only the rest go to an Executor, which asks the model (loaded only
 *          then); every answer is written through the store's BatchWriter as it arrives.
 * score:   reads the stored answers only, and stores the result with the run.
 */
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import type { ModelNeed, ModelSpec, Served } from "../models/index.js";
import { BatchWriter, type RequestRow, type Store } from "../store/index.js";
import { runComponents } from "./components.js";
import { inProcessExecutor, type Executor, type ExecutorEvents } from "./stages/execute.js";
import { answerOf, askingOrder, itemKey, planEval, requestOf, type EvalPlan, type PlannedItem } from "./stages/plan.js";
import { scoreRun, type EvalResult } from "./stages/score.js";

export { requestKey, runConfig, runId, type CachePolicy, type EvalPlan } from "./stages/plan.js";
export type { EvalResult } from "./stages/score.js";

export interface EvalProgress {
  readonly total: number;
  readonly done: number;
  readonly modelCalls: number;
  readonly cacheHits: number;
}

export interface EvalEvents extends ExecutorEvents {
  /** Once planned: how much is already stored, how much the cache answers, how much is left to ask. */
  onPlan?(info: { runId: string; resumed: boolean; total: number; stored: number; cached: number; toAsk: number }): void;
  onProgress?(p: EvalProgress): void;
  /** Stops asking the model; what is answered is kept and the run can be resumed. */
  readonly signal?: AbortSignal;
  /** Who asks the model (default: in this process). */
  readonly executor?: (run: { readonly model: EvalPlan["model"]; readonly runId: string }) => Executor;
  /** The model a server reports running (or its system_fingerprint) changed within the run; also in the result's warnings. */
  onServedChange?(message: string): void;
}

/**
 * Refuses, before anything is asked or stored, a plan that asks the model what it cannot answer
 * (ModelSpec.unsupported: log-probabilities of a reasoning model, option texts over a chat API).
 */
export function checkSupport(model: ModelSpec, items: readonly PlannedItem[]): void {
  if (!model.unsupported) return;
  const needs = new Set<ModelNeed>(items.filter((it) => it.method === "logprobs").map((it) => (it.rendered.answer === "text" ? "text_logprobs" : "label_logprobs")));
  for (const need of needs) {
    const why = model.unsupported(need);
    if (why === undefined) continue;
    throw new CivitasError("usage", `--method logprobs${need === "text_logprobs" ? " with option texts (answer=text)" : ""} cannot ask ${model.display}: ${why}`, {
      hint:
        need === "text_logprobs" && model.unsupported("label_logprobs") === undefined
          ? "option texts need a server's prompt log-probabilities: --api completions with a server that echoes them (vLLM); or the label answer format; or --method sample"
          : "this model answers --method sample and --method verbalize (they read the text it writes), not logprobs",
    });
  }
}

/** Says when what a server reports running changes within a run (the first change of each kind). */
function servedWatcher(report: (message: string) => void): { see(row: RequestRow): void; readonly warnings: string[] } {
  let first: Served | undefined;
  const said = new Set<string>();
  const warnings: string[] = [];
  const text = (v: string | null) => (v === null ? "none" : JSON.stringify(v));
  return {
    warnings,
    see(row) {
      const s = row.served;
      if (!s) return;
      if (first === undefined) {
        first = s;
        return;
      }
      for (const [what, a, b] of [
        ["model", first.model, s.model],
        ["system_fingerprint", first.fingerprint, s.fingerprint],
      ] as const) {
        if (a === b || said.has(`${what}:${String(b)}`)) continue;
        said.add(`${what}:${String(b)}`);
        const message = `the server's reported ${what} changed within the run: ${text(a)}, then ${text(b)} (answers to different models may be mixed; each answer stores what its server reported)`;
        warnings.push(message);
        report(message);
      }
    },
  };
}

export async function runEval(store: Store, plan: EvalPlan, events: EvalEvents = {}): Promise<EvalResult> {
  const started = performance.now();
  // ---- plan
  const run = planEval(plan);
  const { id, items, model } = run;
  const r = run.resolved;
  // The components used, as {name, args}, are stored beside the identity, not hashed (components.ts).
  const components = runComponents({ suite: plan.suite.name, model: plan.model, methods: r.methods, settings: r.settings, conventions: r.conventions });
  checkSupport(model, items);
  // The cache policy: --no-cache asks everything again; --cache-expiry asks again what is older.
  const refresh = plan.cache?.refresh === true;
  const notBefore = plan.cache?.expiryMs === undefined ? undefined : new Date(Date.now() - plan.cache.expiryMs);
  const stale = refresh || notBefore === undefined ? [] : await store.staleAnswers(id, notBefore);
  const resumed =
    (await store.beginRun(
      { id, command: plan.command, suite: plan.suite.name, model: model.display, metric: r.conventions.metric, config: { ...run.config, components } },
      { refresh: refresh || stale.length > 0 },
    )) === "resumed";
  const staleKeys = new Set(stale.map((a) => itemKey(a.questionId, a.variant, a.persona, a.method)));
  const stored = refresh ? new Set<string>() : new Set((await store.answers(id)).map((a) => itemKey(a.questionId, a.variant, a.persona, a.method)).filter((k) => !staleKeys.has(k)));
  const todo = items.filter((it) => !stored.has(itemKey(it.question.id, it.variant.id, it.persona.id, it.method)));
  const cache = refresh ? new Map<string, RequestRow>() : await store.lookupRequests([...new Set(todo.map((it) => it.key))], notBefore === undefined ? {} : { notBefore });
  const served = servedWatcher((m) => events.onServedChange?.(m));

  // Answers asked again replace the stored ones (cache entries and the run's answers).
  const writer = new BatchWriter(store, { runId: id, ...(refresh || notBefore !== undefined ? { replace: true } : {}) });
  let done = items.length - todo.length;
  let cacheHits = 0;
  let modelCalls = 0;
  const progress = () => {
    store.progress(id, done, items.length);
    events.onProgress?.({ total: items.length, done, modelCalls, cacheHits });
  };

  // Prompts the cache answers; the rest grouped by key, so that identical prompts are asked once.
  const ask = new Map<string, PlannedItem[]>();
  for (const it of todo) {
    const hit = cache.get(it.key);
    if (hit) {
      served.see(hit);
      writer.add({ answers: [answerOf(run, plan, it, hit, true)] });
      cacheHits++;
      done++;
    } else {
      const list = ask.get(it.key);
      if (list) list.push(it);
      else ask.set(it.key, [it]);
    }
  }
  events.onPlan?.({ runId: id, resumed, total: items.length, stored: items.length - todo.length, cached: cacheHits, toAsk: ask.size });
  progress();

  // ---- execute
  const executor =
    events.executor?.({ model, runId: id }) ??
    inProcessExecutor(model, {
      ...(events.onModelLoading ? { onModelLoading: events.onModelLoading } : {}),
      ...(events.onModelReady ? { onModelReady: events.onModelReady } : {}),
    });
  try {
    const queue = askingOrder(ask);
    await executor.askAll(
      queue.map((group) => requestOf(run, group[0]!)),
      (request, row) => {
        if (writer.error) throw writer.error;
        const group = ask.get(request.key)!;
        served.see(row);
        writer.add({ requests: [row], answers: group.map((it) => answerOf(run, plan, it, row, false)) });
        modelCalls++;
        done += group.length;
        progress();
      },
      events.signal,
    );
    await writer.flush();
  } catch (e) {
    await writer.flush().catch(() => undefined);
    const kept = await store.countAnswers(id).catch(() => 0);
    await store.failRun(id, messageOf(e), events.signal?.aborted ? "interrupted" : "failed").catch(() => undefined);
    const resume = kept > 0 ? `${kept} of ${items.length} answers are stored in ${store.file}; run the same command again to resume (run ${id})` : "";
    const hint = [isCivitasError(e) ? e.hint : undefined, resume].filter(Boolean).join("\n");
    const opts = hint ? { hint, cause: e } : { cause: e };
    if (isCivitasError(e)) throw new CivitasError(e.kind, e.message, opts);
    throw new CivitasError("model", `the run stopped: ${messageOf(e)}`, opts);
  } finally {
    await executor.close();
  }

  // ---- score
  try {
    return await scoreRun(store, plan, run, { resumed: items.length - todo.length, modelCalls, cacheHits, started, warnings: served.warnings });
  } catch (e) {
    await store.failRun(id, messageOf(e)).catch(() => undefined);
    throw e;
  }
}
