/**
 * The result of `civitas simulate`: what --json prints (with the store), what the store keeps as
 * the run's result, and what `runs show`, reports and the viewer read.
 *
 * Version 2 (this one) is version 1 with a version: version 1 is what civitas wrote before
 * results carried one. Summaries of earlier versions lack a metric's `interval` and `dropped`
 * (a t-interval; no seed left out named), which stay optional.
 */
import { z } from "zod";
import { ci, count, num, numOrNull } from "./common.js";

/** A metric of a sweep point across seeds: mean, 95% interval of the metric's kind, the seeds' final values. */
export const metricSummary = z.object({
  mean: num,
  ci,
  /** How `ci` was computed (sim/metric-kinds.ts). Absent in runs stored by earlier versions (a t-interval). */
  interval: z.enum(["wilson", "t-clipped", "t"]).optional(),
  /** Seeds whose value entered the summary. */
  n: count,
  min: num,
  max: num,
  /** The final value of each seed's run, in the order of the run's seeds; null where a seed has none. */
  per_seed: z.array(z.number().nullable()),
  /** Seeds left out of the summary because they have no value. Absent in runs stored by earlier versions. */
  dropped: z.array(z.number()).optional(),
});

export const simulationResult = z.object({
  run: z.string(),
  scenario: z.string(),
  dynamics: z.string(),
  /** The model's display name, or "none". */
  model: z.string(),
  /** How the model-driven agents were steered (the scenario's `steer`: Linear Alignment's a), when they were. Optional: absent when not steered. */
  steer: z.object({ method: z.literal("linear"), a: z.number() }).optional(),
  /** Swept parameters, in grid order (the first varies slowest). */
  sweep: z.array(z.string()),
  seeds: z.array(z.number()),
  points: z.array(
    z.object({
      /** The point's parameters: the scenario's fixed ones and the swept values. */
      params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
      metrics: z.record(z.string(), metricSummary),
    }),
  ),
  /** "done": every simulation ran; "budget": the budget stopped the run; "interrupted": the signal did. */
  stop: z.enum(["done", "budget", "interrupted"]),
  simulations: z.object({
    total: count,
    /** Run by this invocation. */
    run: count,
    /** Found in the store (an earlier invocation of the same run). */
    stored: count,
    /** Cut short by the budget: stored up to their last complete step, left out of the summaries. */
    stopped: z.array(z.object({ point: count, seed: z.number(), steps: count })),
    /** Not run (after the budget was spent, or after an interrupt). */
    not_run: count,
  }),
  /** Model calls of the invocation that made the result: answered by the model, from the cache, prompt tokens. */
  model_calls: count,
  cache_hits: count,
  prompt_tokens: count,
  /** Model-driven agent-steps of that invocation, and the estimated prompt tokens of their calls per agent-step. Absent when no agent asked the model (and in runs stored before them). */
  agent_steps: count.optional(),
  prompt_tokens_per_agent_step: z.number().optional(),
  /** Why the budget stopped the run, when it did. */
  budget_note: z.string().optional(),
  /** Where the agents were drawn from (the scenario's `population`), when they were. */
  population: z.object({ source: z.string(), attributes: z.array(z.string()), draw: z.enum(["quota", "iid"]) }).optional(),
  /** Persona fidelity and drift (the scenario's `measure`, sim/measure.ts), when measured. */
  fidelity: z
    .object({
      version: z.literal(1),
      suite: z.string(),
      by: z.string(),
      metric: z.string(),
      questions: z.array(z.string()),
      every: count,
      points: z.array(
        z.object({
          point: count,
          steps: z.array(
            z.object({
              step: count,
              /** Seeds measured at this step. */
              seeds: count,
              groups: z.array(
                z.object({
                  /** The suite's population (e.g. POLPARTY=Democrat), or "*" for the overall (mean over the groups). */
                  population: z.string(),
                  /** Mean over the seeds of 1 - mean distance to the real group (eval's alignment). */
                  alignment: num,
                  ci,
                  /** One seed: eval's bootstrap over questions; several: the t-interval across seeds. */
                  interval: z.enum(["bootstrap", "seeds"]),
                  /** Change of the alignment since step 0 (mean over seeds). */
                  drift: numOrNull,
                  uniform: num,
                  human: numOrNull,
                  noise: numOrNull,
                  agents: num,
                  questions: count,
                }),
              ),
            }),
          ),
        }),
      ),
    })
    .optional(),
});

/** What `civitas simulate --json` prints: the result and the store it is in. */
export const simulateOutput = simulationResult.extend({ store: z.string() });

export type MetricSummaryResult = z.output<typeof metricSummary>;
export type SimulationResult = z.output<typeof simulationResult>;
