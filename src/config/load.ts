/**
 * Reading civitas.yaml: YAML syntax, then the schema (schema.ts), then what a schema cannot say
 * (no API key in the file). Every problem is reported at once, each as `file: line N, field: why`.
 * Paths in the file (suite data, llama model files, js: providers, the store) are relative to the
 * file's folder, so that a config works from wherever it is run.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CivitasError, messageOf } from "../errors.js";
import { fieldOf, issueLines, parseYamlLines } from "../yaml-lines.js";
import { configSchema, ENV_NAME, type EvalConfig } from "./schema.js";

export const CONFIG_HINT = "`civitas init` writes a commented example civitas.yaml; docs/config.md describes every key";

/** Values that look like an API key or a token (the usual prefixes, or a bearer header). */
const KEY_LIKE = /^(?:sk-|sk_|pk-|rk-|hf_|gsk_|xai-|AIza|ghp_|github_pat_|glpat-|Bearer\s)[A-Za-z0-9_\-.]{8,}/u;

/** Every string value of the document, with its path. */
function strings(value: unknown, at: PropertyKey[] = []): { path: PropertyKey[]; value: string }[] {
  if (typeof value === "string") return [{ path: at, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, [...at, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => strings(v, [...at, k]));
  return [];
}

/** Problems with secrets: a literal key anywhere, credentials in a URL, an api-key field. */
function secretProblems(raw: unknown): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  const models = (raw as { models?: unknown }).models;
  if (Array.isArray(models)) {
    models.forEach((m, i) => {
      if (m !== null && typeof m === "object" && ("api-key" in m || "apiKey" in m || "api_key" in m)) {
        const key = "api-key" in m ? "api-key" : "apiKey" in m ? "apiKey" : "api_key";
        out.push({ path: ["models", i, key], message: "an API key never goes in the file: name the environment variable that holds it, api-key-env: OPENAI_API_KEY" });
      }
    });
  }
  for (const s of strings(raw)) {
    const last = s.path[s.path.length - 1];
    if (last === "api-key" || last === "apiKey" || last === "api_key") continue;
    if (KEY_LIKE.test(s.value.trim())) {
      out.push({ path: s.path, message: "this looks like an API key: keys never go in the file (name the environment variable that holds it with api-key-env)" });
    } else if (last === "base-url" && /^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/iu.test(s.value)) {
      out.push({ path: s.path, message: "the URL carries credentials (user:password@): put the key in an environment variable named by api-key-env" });
    } else if (last === "api-key-env" && !ENV_NAME.test(s.value)) {
      // The schema says so too; this names the worse mistake.
      out.push({ path: s.path, message: "expected the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key itself" });
    }
  }
  return out;
}

function configError(source: string, problems: readonly string[]): CivitasError {
  return new CivitasError("input", problems.map((l) => `${source}: ${l}`).join("\n"), { hint: CONFIG_HINT });
}

/** A config from its text; `source` names the file in errors. Paths are returned as written (see resolveConfigPaths). */
export function parseConfig(text: string, source: string): EvalConfig {
  const y = parseYamlLines(text, (problems) => configError(source, problems));
  const raw = y.raw;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw configError(source, ["expected a mapping with models and suites (and populations, methods, ...)"]);
  }
  // Secrets first: a key in the file is the worst mistake, whatever else is wrong.
  const secrets = secretProblems(raw);
  if (secrets.length > 0) throw configError(source, secrets.map((s) => `${y.lineOf(s.path)}${fieldOf(s.path)}: ${s.message}`));
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw configError(source, issueLines(y, parsed.error.issues));
  return parsed.data;
}

/** Relative paths in a config made relative to `base` (the config file's folder). */
export function resolveConfigPaths(config: EvalConfig, base: string): EvalConfig {
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.resolve(base, p));
  const model = (m: string) => {
    const colon = m.indexOf(":");
    const backend = m.slice(0, colon);
    const target = m.slice(colon + 1);
    // Local files only: llama:hf:... downloads, and servers name models, not files.
    if ((backend === "llama" && !target.startsWith("hf:")) || backend === "js") return `${backend}:${abs(target)}`;
    return m;
  };
  return {
    ...config,
    models: config.models.map((m) => (typeof m === "string" ? model(m) : { ...m, model: model(m.model) })),
    suites: config.suites.map((s) =>
      typeof s === "string" ? s : { ...s, ...(s.data === undefined ? {} : { data: abs(s.data) }), ...(s.prompts === undefined ? {} : { prompts: abs(s.prompts) }) },
    ),
    // A protocol file (a path, or a .yaml/.json name), not a built-in protocol's name.
    ...(config.protocol !== undefined && (/[\\/]/u.test(config.protocol) || /\.(ya?ml|json)$/iu.test(config.protocol)) ? { protocol: abs(config.protocol) } : {}),
    ...(config.store === undefined ? {} : { store: abs(config.store) }),
    ...(config["cache-dir"] === undefined ? {} : { "cache-dir": abs(config["cache-dir"]) }),
  };
}

/** Reads, validates and resolves a config file. */
export async function loadConfig(file: string): Promise<EvalConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw new CivitasError(missing ? "usage" : "input", missing ? `config file not found: ${file}` : `cannot read ${file}: ${messageOf(e)}`, { hint: CONFIG_HINT });
  }
  return resolveConfigPaths(parseConfig(text, file), path.dirname(path.resolve(file)));
}
