/**
 * Reading a text file the user named, whole, or one clear error. Every reader of such a file
 * (scenarios, edge lists, ratings, PrefLib, comparisons, predictions, Polis exports) goes through
 * `readText`, so the messages have one form:
 *
 * - the path does not exist: `no <what> <path>`, kind "usage" (exit 2: the command line names a
 *   path that does not exist; src/cli/common.ts reportError);
 * - it exists but cannot be read (a folder, no permission): `cannot read the <what> <path>:
 *   <reason>`, kind "input" (exit 1).
 *
 * The text is decoded as UTF-8 and a leading byte order mark is dropped, as every parser here
 * drops it (jsonl.ts, the CSV readers' `bom` option).
 */
import { readFile } from "node:fs/promises";
import { CivitasError, messageOf } from "./errors.js";

/**
 * The text of `file`. `what` says what the file is, for messages ("scenario file", "ratings
 * file"); `hint` is added to either error.
 */
export async function readText(file: string, what: string, options: { readonly hint?: string } = {}): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const extra = { cause: e, ...(options.hint === undefined ? {} : { hint: options.hint }) };
    // ENOTDIR: a part of the path is a file ("a.csv/b.csv"), so the path does not exist either.
    if (code === "ENOENT" || code === "ENOTDIR") throw new CivitasError("usage", `no ${what} ${file}`, extra);
    throw new CivitasError("input", `cannot read the ${what} ${file}: ${messageOf(e)}`, extra);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
