/**
 * Custom surveys: the files named by --data (one survey file, or a folder holding questions.* and
 * responses.*), their formats, and their bytes.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { CivitasError, messageOf } from "../errors.js";
import { DOCS } from "./custom-fields.js";

type Format = "csv" | "jsonl" | "json";

export interface SourceFile {
  /** The path as the user gave it (joined with the file name in a folder), for messages. */
  readonly shown: string;
  readonly abs: string;
  readonly format: Format;
  readonly tsv: boolean;
  readonly bytes: Buffer;
}

function formatOf(file: string): { format: Format; tsv: boolean } | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv") return { format: "csv", tsv: false };
  if (ext === ".tsv") return { format: "csv", tsv: true };
  if (ext === ".jsonl" || ext === ".ndjson") return { format: "jsonl", tsv: false };
  if (ext === ".json") return { format: "json", tsv: false };
  return undefined;
}

interface Input {
  readonly location: string;
  readonly title: string;
  /** Single file: [survey]; folder: [questions, responses?]. */
  readonly files: readonly SourceFile[];
  readonly folder: boolean;
}

async function readSource(shown: string, abs: string): Promise<SourceFile> {
  const fmt = formatOf(abs)!;
  try {
    return { shown, abs, ...fmt, bytes: await readFile(abs) };
  } catch (e) {
    throw new CivitasError("input", `cannot read ${shown}: ${messageOf(e)}`);
  }
}

export async function resolveInput(data: string): Promise<Input> {
  const abs = path.resolve(data);
  let isDir: boolean;
  try {
    isDir = (await stat(abs)).isDirectory();
  } catch {
    throw new CivitasError("usage", `--data ${data} does not exist`, {
      hint: `give a survey file (.csv, .tsv, .jsonl, .json) or a folder holding questions.csv and responses.csv; ${DOCS}`,
    });
  }
  if (!isDir) {
    if (!formatOf(abs)) {
      throw new CivitasError("usage", `--data ${data}: unknown file type "${path.extname(abs)}"`, {
        hint: `a custom survey is a .csv, .tsv, .jsonl or .json file, or a folder holding questions.* and responses.*; ${DOCS}`,
      });
    }
    return { location: abs, title: `${path.basename(abs)} (custom survey)`, files: [await readSource(data, abs)], folder: false };
  }
  const names = await readdir(abs);
  const pick = (role: string): string | undefined => {
    const found = names.filter((n) => path.parse(n).name.toLowerCase() === role && formatOf(n) !== undefined);
    if (found.length > 1) {
      throw new CivitasError("input", `${data} holds more than one ${role} file: ${found.join(", ")}`, {
        hint: `keep exactly one ${role}.csv, ${role}.tsv, ${role}.jsonl or ${role}.json`,
      });
    }
    return found[0];
  };
  const q = pick("questions");
  const r = pick("responses");
  if (q === undefined) {
    throw new CivitasError("input", `${data} is a folder without a questions file (questions.csv, .tsv, .jsonl or .json)`, {
      hint: `a survey folder holds questions.* (one row per question) and responses.* (the answers); or give one survey file; ${DOCS}`,
    });
  }
  const files = [await readSource(path.join(data, q), path.join(abs, q))];
  if (r !== undefined) files.push(await readSource(path.join(data, r), path.join(abs, r)));
  return { location: abs, title: `${path.basename(abs)} (custom survey)`, files, folder: true };
}
