/**
 * The components a run used, each as `{name, args}` (src/registry.ts), as a run's stored
 * configuration records them under `components`. They sit beside the fields that identify the
 * run (engine.ts, runConfig) and are not hashed: run ids stay those of the releases before
 * registries, and what identifies a run (the suite's data, the model's identity and parameters,
 * the methods' settings, the conventions) is in those fields already.
 */
import { metrics } from "../metrics/index.js";
import type { ModelSpec } from "../models/index.js";
import type { ComponentSpec } from "../registry.js";
import { suites } from "../surveys/index.js";
import { methods, type MethodSettings } from "./methods.js";
import { protocols, type Conventions } from "./protocols.js";

export interface RunComponents {
  readonly suite: ComponentSpec;
  readonly model: ComponentSpec;
  readonly methods: readonly ComponentSpec[];
  readonly metric: ComponentSpec;
  readonly protocol: ComponentSpec | null;
}

/** A component by name, or `{name, args: {}}` for one the caller built without registering it (a suite loaded by hand). */
const specOf = (registry: { find(name: string): unknown; spec(name: string, args?: unknown): ComponentSpec }, name: string, args?: unknown): ComponentSpec =>
  registry.find(name) ? registry.spec(name, args) : { name, args: {} };

export function runComponents(o: {
  readonly suite: string;
  readonly model: ModelSpec;
  readonly methods: readonly string[];
  readonly settings: MethodSettings;
  readonly conventions: Conventions & { readonly protocol: string | null };
}): RunComponents {
  return {
    suite: specOf(suites, o.suite),
    model: o.model.component ?? { name: o.model.backend, args: {} },
    // A method's arguments are the run's settings it declares (sample: samples, constrain).
    methods: o.methods.map((m) => specOf(methods, m, o.settings)),
    metric: specOf(metrics, o.conventions.metric),
    protocol: o.conventions.protocol === null ? null : specOf(protocols, o.conventions.protocol),
  };
}
