/**
 * The result of `civitas steer` (version 1): what --json prints, what the store keeps as the run's
 * result (kind "steer"), and what `runs show`, reports and the viewer read. Everything is measured
 * on the test questions of the split; gains are in alignment (1 - distance; positive: closer).
 */
import { z } from "zod";
import { ci, count, interval, num } from "./common.js";

const methodRow = z.object({
  method: z.string(),
  alignment: interval,
  /** Paired over test questions: the method's alignment minus unsteered, persona, calibrate (null where that method was not run). */
  gain_unsteered: interval,
  gain_persona: interval.nullable(),
  gain_calibrate: interval.nullable(),
});

export const steerResult = z.object({
  run: z.string(),
  suite: z.string(),
  model: z.string(),
  metric: z.string(),
  /** Question ids of each part. */
  split: z.object({ kind: z.enum(["stratified", "wave"]), seed: z.number(), train: z.array(z.string()), dev: z.array(z.string()), test: z.array(z.string()) }),
  /** Presentation variants every question was asked in. */
  variants: z.array(z.string()),
  methods: z.array(
    z.object({
      method: z.string(),
      paper: z.string(),
      /** Asks the model new prompts (false: post-processes stored answers). */
      asks: z.boolean(),
      /** The knob tuned on dev: the value chosen, the grid, and the mean dev alignment of each value. */
      knob: z.object({ name: z.string(), value: z.number().nullable(), grid: z.array(z.number()), dev: z.array(z.object({ value: z.number(), alignment: num })) }).nullable(),
      /** What was fitted on train (calibrate: log-offsets per target, variant and option position). */
      fitted: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  targets: z.array(z.object({ population: z.string(), n: count, unsteered: interval, methods: z.array(methodRow) })),
  overall: z.object({ unsteered: interval, methods: z.array(methodRow) }),
  /** Alignment of each method steered to each target, with each evaluated population (null: nothing scored). */
  matrix: z.object({
    evaluated: z.array(z.string()),
    unsteered: z.array(z.number().nullable()),
    rows: z.array(z.object({ method: z.string(), target: z.string(), alignment: z.array(z.number().nullable()) })),
  }),
  /** Gain on the target minus the mean gain on the other evaluated populations (of its attribute where there are some). */
  specificity: z.array(z.object({ method: z.string(), mean: z.number().nullable(), targets: z.array(z.object({ target: z.string(), value: z.number().nullable() })) })),
  /** Per method: its gain over unsteered in each variant, the share of (variant x resample) where it is positive, and whether it survives (>= 0.95). */
  variants_check: z
    .object({
      variants: z.array(z.string()),
      methods: z.array(z.object({ method: z.string(), per_variant_gain: z.array(z.number().nullable()), share_positive: num, survives: z.boolean() })),
    })
    .nullable(),
  /** Prompt tokens the model evaluated per test question (all variants), and the gain over unsteered per 1,000 of them. */
  cost: z.array(z.object({ method: z.string(), tokens_per_question: num, gain_per_1k_tokens: z.number().nullable() })),
  /** The distribution over targets of each method's gain over unsteered (per person on PAPI). */
  individuals: z.array(z.object({ method: z.string(), n: count, min: num, q25: num, median: num, q75: num, max: num, positive: num })),
  /** Sorensen et al. 2024's three forms of pluralism. */
  pluralism: z.object({
    distributional: z.object({ population: z.string(), mean: num, ci }),
    steerable: z.array(z.object({ method: z.string(), mean: num })),
    overton: z.object({ population: z.string(), share: num, options: count }),
  }),
  /** The eval runs that hold the answers (unsteered and personas first, then few-shot prompts). */
  eval_runs: z.array(z.string()),
  /** Of the invocation that made the result. */
  answers: z.object({ model_calls: count, cache_hits: count }),
  warnings: z.array(z.string()),
  store: z.string(),
  seconds: z.number(),
});

export type SteerResult = z.output<typeof steerResult>;
