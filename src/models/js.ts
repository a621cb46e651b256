/**
 * `js:<file>[#<target>]`: a model backend the user brings as an ES module, without forking civitas
 * (as promptfoo's `file://` providers). The module's default export makes the client:
 *
 *   // my-provider.mjs
 *   export const identity = "my-model-v1";          // optional: what else decides its answers
 *   export default async function (target, options) {
 *     return {
 *       concurrency: 1,                              // optional, default 1
 *       async optionProbabilities(query, signal) {   // --method logprobs
 *         return { labelMass: query.labels.map(() => 0.25), coverage: 1 };
 *       },
 *       async complete(query, signal) { ... },       // optional: --method sample, verbalize
 *       async close() { ... },                       // optional
 *     };
 *   }
 *
 * Loaded only where a command line or a program names it (ModelOptions.allowModules, spec.ts), never
 * from a data file such as a scenario. `target` is what follows `#` ("" without one), `options`
 * the command line's model options
 * (threads, parallel, contextSize, gpu, baseURL, apiKey, concurrency, timeoutMs, retries) as
 * given. The factory is called only when a run has something to ask, so a run the store or the
 * cache answers never calls it. Answers are checked (one finite, non-negative mass per label,
 * coverage in [0, 1], n texts); a bad one stops the run with an error naming the file.
 *
 * Identity (part of every cache key and run id): `js:` + the first 16 hex digits of the SHA-256
 * of the module file's content, + `:` + its `identity` export when it has one, + `#<target>`.
 * Two providers whose files differ never share cache entries, and editing a provider asks again;
 * the same file at another path is the same provider. What the file imports is not hashed: a
 * provider whose answers depend on other files or settings says so in its `identity` export.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import type { CompletionAnswer, CompletionQuery, ModelClient, ModelSpec, OptionAnswer, OptionQuery } from "./types.js";

/** The command line's model options, handed to the provider as they are (spec.ts ModelOptions). */
type ModelOptions = object;

/** What a provider module's default export returns: a ModelClient, less what civitas fills in. */
export interface JsProvider {
  /** Queries it can usefully run at once (default 1). */
  readonly concurrency?: number;
  optionProbabilities(query: OptionQuery, signal?: AbortSignal): Promise<OptionAnswer> | OptionAnswer;
  complete?(query: CompletionQuery, signal?: AbortSignal): Promise<CompletionAnswer> | CompletionAnswer;
  close?(): Promise<void> | void;
}

const FORM = "js:<file.mjs>[#<target>]";

const OPTION_ANSWER = z.object({
  labelMass: z.array(z.number().nonnegative({ error: "expected finite numbers >= 0" }), { error: "expected an array of numbers" }),
  coverage: z.number({ error: "expected a number in [0, 1]" }).min(0, { error: "expected a number in [0, 1]" }).max(1 + 1e-9, { error: "expected a number in [0, 1]" }),
  top: z.array(z.object({ token: z.string(), prob: z.number() }), { error: "expected [{token, prob}, ...]" }).default([]),
  promptTokens: z.int({ error: "expected an integer or null" }).nonnegative().nullable().default(null),
});

const COMPLETION_ANSWER = z.object({
  texts: z.array(z.string(), { error: "expected an array of strings" }),
  mode: z.enum(["none", "grammar", "json_schema"], { error: "expected none, grammar or json_schema" }).default("none"),
  promptTokens: z.int({ error: "expected an integer or null" }).nonnegative().nullable().default(null),
});

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.map(String).join(".") || "the answer"}: ${i.message}`).join("; ");
}

/** The spec of `js:<ref>`: reads and imports the module now (a clear error before any data loads), calls its factory on open(). */
export async function jsSpec(ref: string, options: ModelOptions = {}): Promise<ModelSpec> {
  const hash = ref.indexOf("#");
  const file = hash < 0 ? ref : ref.slice(0, hash);
  const target = hash < 0 ? "" : ref.slice(hash + 1);
  if (file.trim() === "") throw new CivitasError("usage", `model "js:${ref}" names no file`, { hint: `write ${FORM}, e.g. js:./my-provider.mjs` });
  const abs = path.resolve(file);
  const isFile = await stat(abs).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    throw new CivitasError("usage", `no provider file ${file}`, { hint: `write ${FORM}; docs/extending.md shows a provider module` });
  }
  const content = await readFile(abs);
  let mod: { default?: unknown; identity?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as typeof mod;
  } catch (e) {
    throw new CivitasError("input", `cannot load the provider ${file}: ${messageOf(e).split("\n")[0]!}`, {
      hint: "a provider is an ES module (.mjs, or .js in a package of type module) whose default export makes the client",
      cause: e,
    });
  }
  const factory = mod.default;
  if (typeof factory !== "function") {
    throw new CivitasError("input", `the provider ${file} has no default export that makes a client`, {
      hint: "export default async function (target, options) { return { optionProbabilities, complete, close } } (docs/extending.md)",
    });
  }
  if (mod.identity !== undefined && (typeof mod.identity !== "string" || mod.identity.trim() === "")) {
    throw new CivitasError("input", `the provider ${file}: its identity export must be a non-empty string`, {
      hint: 'e.g. export const identity = "my-model-v1"; it goes into cache keys: never a secret',
    });
  }
  const digest = createHash("sha256").update(content).digest("hex").slice(0, 16);
  const suffix = target === "" ? "" : `#${target}`;
  const identity = `js:${digest}${mod.identity === undefined ? "" : `:${mod.identity as string}`}${suffix}`;
  const display = `js:${path.basename(file)}${suffix}`;
  const make = factory as (target: string, options: ModelOptions) => unknown;
  return {
    backend: "js",
    identity,
    display,
    params: {},
    open: async () => wrapProvider(await callFactory(make, target, options, file), identity, file),
  };
}

async function callFactory(make: (target: string, options: ModelOptions) => unknown, target: string, options: ModelOptions, file: string): Promise<JsProvider> {
  let p: unknown;
  try {
    p = await make(target, options);
  } catch (e) {
    if (isCivitasError(e)) throw e;
    throw new CivitasError("model", `the provider ${file} could not make its client: ${messageOf(e)}`, { cause: e });
  }
  const c = p as Partial<JsProvider> | null;
  const problems: string[] = [];
  if (c === null || typeof c !== "object") problems.push("expected an object");
  else {
    if (typeof c.optionProbabilities !== "function") problems.push("optionProbabilities: expected a function");
    if (c.complete !== undefined && typeof c.complete !== "function") problems.push("complete: expected a function");
    if (c.close !== undefined && typeof c.close !== "function") problems.push("close: expected a function");
    if (c.concurrency !== undefined && !(Number.isInteger(c.concurrency) && c.concurrency >= 1)) problems.push("concurrency: expected an integer >= 1");
  }
  if (problems.length > 0) {
    throw new CivitasError("input", `the client the provider ${file} made is not a model client: ${problems.join("; ")}`, {
      hint: "it needs optionProbabilities(query, signal), and complete(query, signal) for --method sample and verbalize (docs/extending.md)",
    });
  }
  return c as JsProvider;
}

/** The provider's client as a ModelClient: civitas's identity, and every answer checked. */
function wrapProvider(p: JsProvider, identity: string, file: string): ModelClient {
  const bad = (what: string, why: string) =>
    new CivitasError("model", `the provider ${file} answered ${what} badly: ${why}`, { hint: "docs/extending.md describes what a provider answers" });
  // What the provider throws, named (an abort and civitas's own errors as they are).
  const ask = async <T>(what: string, signal: AbortSignal | undefined, call: () => T | Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (e) {
      if (isCivitasError(e) || signal?.aborted) throw e;
      throw new CivitasError("model", `the provider ${file} failed in ${what}: ${messageOf(e)}`, { cause: e });
    }
  };
  return {
    backend: "js",
    identity,
    concurrency: p.concurrency ?? 1,
    async optionProbabilities(query, signal) {
      const r = OPTION_ANSWER.safeParse(await ask("optionProbabilities", signal, () => p.optionProbabilities(query, signal)));
      if (!r.success) throw bad("optionProbabilities", issues(r.error));
      const k = (query.continuations ?? query.labels).length;
      if (r.data.labelMass.length !== k) throw bad("optionProbabilities", `labelMass has ${r.data.labelMass.length} values for ${k} ${query.continuations ? "continuations" : "labels"}`);
      return r.data;
    },
    async complete(query, signal) {
      if (!p.complete) {
        throw new CivitasError("model", `the provider ${file} has no complete(): it answers --method logprobs only`, {
          hint: "add complete(query, signal) returning { texts } (n of them) for --method sample and verbalize",
        });
      }
      const complete = p.complete.bind(p);
      const r = COMPLETION_ANSWER.safeParse(await ask("complete", signal, () => complete(query, signal)));
      if (!r.success) throw bad("complete", issues(r.error));
      if (r.data.texts.length !== query.n) throw bad("complete", `${r.data.texts.length} texts for n = ${query.n}`);
      return r.data;
    },
    async close() {
      await p.close?.();
    },
  };
}
