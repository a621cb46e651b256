/** JSON Lines: one JSON value a line; blank lines skipped; a line that is not JSON is an error naming the file and line. */
import { CivitasError, messageOf } from "./errors.js";

export interface JsonLine {
  /** 1-based, as an editor shows it. */
  readonly line: number;
  /** "<file> line <n>", for messages. */
  readonly at: string;
  readonly value: unknown;
}

/**
 * What JSON.parse said, without the excerpt of the text it quotes (`Unexpected token 'r',
 * "root:x:0:0"... is not valid JSON`): a file named by mistake must not be shown line by line.
 */
export function jsonSyntaxError(e: unknown): string {
  return messageOf(e).replace(/,?\s*"(?:[^"\\]|\\.)*"(?:\.\.\.)?\s+is not valid JSON$/u, "");
}

export function* jsonLines(text: string, file: string, hint = "each line must be one JSON object"): Generator<JsonLine> {
  // A UTF-8 byte order mark is accepted, as in every text file civitas reads.
  const lines = text.replace(/^\uFEFF/u, "").split(/\r?\n/u);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const at = `${file} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new CivitasError("input", `${at}: not valid JSON (${jsonSyntaxError(e)})`, { hint });
    }
    yield { line: i + 1, at, value };
  }
}
