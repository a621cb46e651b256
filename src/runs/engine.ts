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
import { BatchWriter, type Store } from "../store/index.js";
import { runComponents } from "./components.js";
import { inProcessExecutor, type Executor, type ExecutorEvents } from "./stages/execute.js";
import { answerOf, askingOrder, itemKey, planEval, requestOf, type EvalPlan, type PlannedItem } from "./stages/plan.js";
import { scoreRun, type EvalResult } from "./stages/score.js";

export { requestKey, runConfig, runId, type EvalPlan } from "./stages/plan.js";
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
  readonly executor?: (run: { readonly model: EvalPlan["model"] }) => Executor;
}

export async function runEval(store: Store, plan: EvalPlan, events: EvalEvents = {}): Promise<EvalResult> {
  const started = performance.now();
  // ---- plan
  const run = planEval(plan);
  const { id, items, model } = run;
  const r = run.resolved;
  // The components used, as {name, args}, are stored beside the identity, not hashed (components.ts).
  const components = runComponents({ suite: plan.suite.name, model: plan.model, methods: r.methods, settings: r.settings, conventions: r.conventions });
  const resumed =
    (await store.beginRun({ id, command: plan.command, suite: plan.suite.name, model: model.display, metric: r.conventions.metric, config: { ...run.config, components } })) === "resumed";
  const stored = new Set((await store.answers(id)).map((a) => itemKey(a.questionId, a.variant, a.persona, a.method)));
  const todo = items.filter((it) => !stored.has(itemKey(it.question.id, it.variant.id, it.persona.id, it.method)));
  const cache = await store.lookupRequests([...new Set(todo.map((it) => it.key))]);

  const writer = new BatchWriter(store, { runId: id });
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
    events.executor?.({ model }) ??
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
    return await scoreRun(store, plan, run, { resumed: items.length - todo.length, modelCalls, cacheHits, started });
  } catch (e) {
    await store.failRun(id, messageOf(e)).catch(() => undefined);
    throw e;
  }
}
