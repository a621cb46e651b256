/** JSON Lines: one JSON value a line; blank lines skipped; a line that is not JSON is an error naming the file and line. */
import { CivitasError, messageOf } from "./errors.js";

export interface JsonLine {
  /** 1-based, as an editor shows it. */
  readonly line: number;
  /** "<file> line <n>", for messages. */
  readonly at: string;
  readonly value: unknown;
}

export function* jsonLines(text: string, file: string, hint = "each line must be one JSON object"): Generator<JsonLine> {
  const lines = text.split(/\r?\n/u);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === "") continue;
    const at = `${file} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new CivitasError("input", `${at}: not valid JSON (${messageOf(e)})`, { hint });
    }
    yield { line: i + 1, at, value };
  }
}
