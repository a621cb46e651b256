/**
 * What a run would ask, without asking: `civitas eval --dry-run`. The run is planned as runEval
 * plans it (same id, same request keys); the store is read for the answers the run already has
 * and for the requests its cache answers; nothing is written and no model is opened.
 */
import type { Store } from "../store/index.js";
import { itemKey, planEval, requestOf, type EvalPlan } from "./stages/plan.js";

export interface DryRun {
  readonly runId: string;
  /** Answers the run needs (questions x variants x personas x methods). */
  readonly total: number;
  /** Answers the store already holds for this run. */
  readonly stored: number;
  /** Answers the request cache would give (identical requests of other runs). */
  readonly cached: number;
  /** The requests left to ask the model, one per distinct request key: what a model call costs. */
  readonly toAsk: readonly {
    readonly method: string;
    readonly prompt: string;
    readonly system: string | null;
    /** The method's request parameters (n, max_tokens...). */
    readonly params: Readonly<Record<string, unknown>>;
  }[];
}

/** Plans a run and reads what the store (if any) already answers; asks and writes nothing. */
export async function dryRun(store: Store | undefined, plan: EvalPlan): Promise<DryRun> {
  const run = planEval(plan);
  const refresh = plan.cache?.refresh === true;
  const notBefore = plan.cache?.expiryMs === undefined ? undefined : new Date(Date.now() - plan.cache.expiryMs);
  const stale = store && !refresh && notBefore !== undefined ? await store.staleAnswers(run.id, notBefore) : [];
  const staleKeys = new Set(stale.map((a) => itemKey(a.questionId, a.variant, a.persona, a.method)));
  const storedKeys =
    store && !refresh ? new Set((await store.answers(run.id)).map((a) => itemKey(a.questionId, a.variant, a.persona, a.method)).filter((k) => !staleKeys.has(k))) : new Set<string>();
  const todo = run.items.filter((it) => !storedKeys.has(itemKey(it.question.id, it.variant.id, it.persona.id, it.method)));
  const keys = [...new Set(todo.map((it) => it.key))];
  const cache = store && !refresh ? await store.lookupRequests(keys, notBefore === undefined ? {} : { notBefore }) : new Map();
  const toAsk = new Map<string, DryRun["toAsk"][number]>();
  let cached = 0;
  for (const it of todo) {
    if (cache.has(it.key)) cached++;
    else if (!toAsk.has(it.key)) {
      const req = requestOf(run, it);
      toAsk.set(it.key, { method: it.method, prompt: req.prompt, system: it.rendered.system, params: req.params });
    }
  }
  return { runId: run.id, total: run.items.length, stored: run.items.length - todo.length, cached, toAsk: [...toAsk.values()] };
}
