/**
 * Text from data files, servers and models made safe to print on a terminal. Survey questions,
 * option texts, population names, Polis comments and model answers are other people's text: an
 * ESC in them starts a terminal escape sequence (colours, cursor moves, OSC 8 links, window
 * titles, on some terminals clipboard writes), and a bidi override (U+202E) makes a line read
 * differently from what it holds ("Trojan Source", CVE-2021-42574).
 *
 * Every such character is replaced by a visible escape, so the text stays readable and nothing
 * is hidden:
 *   - C0 controls (ESC -> `\x1b`, BEL, BS, NUL...) and DEL; `\r` -> `\r`. Newlines and tabs are
 *     kept where the layout is lines (`multiline`), else each becomes one space (a table cell);
 *   - C1 controls U+0080-U+009F (U+009B is a one-character CSI on some terminals) -> `\u009b`;
 *   - bidi embeddings, overrides, isolates and marks: U+202A-U+202E, U+2066-U+2069, U+200E,
 *     U+200F, U+061C;
 *   - invisible characters that hide text: U+200B (zero width space), U+2060-U+2064, U+FEFF,
 *     U+2028/U+2029 (line separators), U+FFF9-U+FFFB, and the tag characters U+E0000-U+E007F
 *     (invisible ASCII, used to smuggle instructions to models); lone surrogates.
 * Zero-width joiners and non-joiners (U+200C, U+200D) stay: scripts and emoji need them.
 *
 * The result holds none of these characters, so applying it twice changes nothing.
 */

const UNSAFE = /\r\n|[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]|[\ud800-\udfff]/gu;

/** How a character is shown instead: `\x1b` below U+0080, `\u202e` in the BMP, `\u{e0041}` beyond. */
export function visibleEscape(ch: string): string {
  if (ch === "\r") return "\\r";
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\u{${cp.toString(16)}}`;
}

export interface TerminalSafeOptions {
  /** Keep newlines and tabs (text laid out in lines); otherwise each is one space. Default false. */
  readonly multiline?: boolean;
}

/** The text with every control, bidi and invisible character replaced (see the module comment). */
export function terminalSafe(text: string, options: TerminalSafeOptions = {}): string {
  const multiline = options.multiline ?? false;
  return text.replace(UNSAFE, (ch) => {
    if (ch === "\r\n" || ch === "\n") return multiline ? "\n" : " ";
    if (ch === "\t") return multiline ? "\t" : " ";
    return visibleEscape(ch);
  });
}

// The same characters beyond U+007F (JSON.stringify escapes the others itself).
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;

/**
 * JSON text with those characters written as \u escapes: the same JSON value (they can only
 * occur inside strings), and nothing that acts on a terminal when it is printed.
 */
export function jsonTerminalSafe(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (ch) =>
    [...ch]
      .flatMap((c) => (c.length === 2 ? [c.charCodeAt(0), c.charCodeAt(1)] : [c.charCodeAt(0)]))
      .map((u) => `\\u${u.toString(16).padStart(4, "0")}`)
      .join(""),
  );
}
