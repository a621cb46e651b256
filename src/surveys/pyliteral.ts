/**
 * A small, strict parser for Python literal lists as pandas/`repr` writes them into CSV and JSON
 * files: `['Yes, I own a gun', "No, I don't own any guns", 'Refused']`, `[1.0, 2.0, 1.5]`.
 *
 * Accepted (the subset of `ast.literal_eval` that such files hold): lists (nested), single- or
 * double-quoted strings with Python's escapes (\\ \' \" \n \r \t \a \b \f \v \ooo \xNN \uNNNN
 * \UNNNNNNNN, backslash-newline; an unknown escape keeps its backslash, as Python does), numbers
 * (ints and floats, optional sign, exponent, `_` digit separators), None, True, False, and a
 * trailing comma. Anything else (tuples, dicts, nan, triple-quoted or prefixed strings, text after
 * the list) is an error naming where the text came from and the character position.
 *
 * Flat dicts (`parsePyDict`), as pandas writes a column of Python dicts: `{'Brazil': 0.646,
 * 'France': 0.63}`, `{'1': 1, '2': 2}`, `{'choice_format': 'numbers'}`. Keys must be strings (as
 * above), values strings, numbers, None, True or False; a trailing comma is accepted. Nested lists
 * or dicts, non-string keys, a key listed twice (Python would keep the last one silently) and text
 * after the closing brace are errors.
 */
import { CivitasError } from "../errors.js";

export type PyValue = string | number | boolean | null | PyValue[];

/** A value of a flat Python dict. */
export type PyScalar = string | number | boolean | null;

class Parser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly where: string,
    private readonly kind: "list" | "dict" = "list",
  ) {}

  fail(message: string, at: number = this.pos): never {
    const shown = this.text.length > 120 ? `${this.text.slice(0, 117)}...` : this.text;
    throw new CivitasError(
      "input",
      `${this.where}: ${message} at character ${at + 1} of the Python ${this.kind} ${JSON.stringify(shown)}`,
      {
        hint:
          this.kind === "list"
            ? "the value must be a Python literal list such as ['Yes', 'No'] or [1.0, 2.0]"
            : "the value must be a flat Python literal dict such as {'Japan': 0.5, 'Brazil': 0.6} or {'1': 1, '2': 2}",
      },
    );
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      // space, tab, newline, carriage return, form feed
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) this.pos++;
      else break;
    }
  }

  parseTop(): PyValue[] {
    this.skipSpace();
    if (this.text[this.pos] !== "[") {
      this.fail(this.pos >= this.text.length ? "expected '[' but the text is empty" : "expected '['");
    }
    const list = this.parseList(0);
    this.skipSpace();
    if (this.pos < this.text.length) this.fail("unexpected text after the closing ']'");
    return list;
  }

  parseTopDict(): Map<string, PyScalar> {
    this.skipSpace();
    if (this.text[this.pos] !== "{") {
      this.fail(this.pos >= this.text.length ? "expected '{' but the text is empty" : "expected '{'");
    }
    this.pos++;
    const out = new Map<string, PyScalar>();
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
    } else {
      for (;;) {
        this.skipSpace();
        const keyAt = this.pos;
        const q = this.text[this.pos];
        if (q === undefined) this.fail("unexpected end, expected a key");
        if (q !== "'" && q !== '"') this.fail(`dict keys must be quoted strings, found '${q}'`);
        const key = this.parseString(q);
        if (out.has(key)) this.fail(`key ${JSON.stringify(key)} is listed twice`, keyAt);
        this.skipSpace();
        const colon = this.text[this.pos];
        if (colon !== ":") this.fail(colon === undefined ? "unexpected end, expected ':'" : `expected ':' but found '${colon}'`);
        this.pos++;
        this.skipSpace();
        const v = this.text[this.pos];
        if (v === "[" || v === "{" || v === "(") {
          this.fail(`the value of ${JSON.stringify(key)} is a list, dict or tuple (only flat dicts of strings, numbers, None, True and False are supported)`);
        }
        out.set(key, this.parseValue(0) as PyScalar);
        this.skipSpace();
        const c = this.text[this.pos];
        if (c === ",") {
          this.pos++;
          this.skipSpace();
          if (this.text[this.pos] === "}") {
            this.pos++;
            break;
          }
          continue;
        }
        if (c === "}") {
          this.pos++;
          break;
        }
        this.fail(c === undefined ? "unexpected end, expected ',' or '}'" : `expected ',' or '}' but found '${c}'`);
      }
    }
    this.skipSpace();
    if (this.pos < this.text.length) this.fail("unexpected text after the closing '}'");
    return out;
  }

  parseList(depth: number): PyValue[] {
    if (depth > 100) this.fail("lists nested too deeply");
    this.pos++; // '['
    const out: PyValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.parseValue(depth));
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ",") {
        this.pos++;
        this.skipSpace();
        if (this.text[this.pos] === "]") {
          this.pos++;
          return out;
        }
        continue;
      }
      if (c === "]") {
        this.pos++;
        return out;
      }
      this.fail(c === undefined ? "unexpected end, expected ',' or ']'" : `expected ',' or ']' but found '${c}'`);
    }
  }

  parseValue(depth: number): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail("unexpected end, expected a value");
    if (c === "[") return this.parseList(depth + 1);
    if (c === "'" || c === '"') return this.parseString(c);
    if (c === "-" || c === "+" || c === "." || (c >= "0" && c <= "9")) return this.parseNumber();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos, this.pos + 40))?.[0];
    if (word === "None") {
      this.pos += 4;
      return null;
    }
    if (word === "True") {
      this.pos += 4;
      return true;
    }
    if (word === "False") {
      this.pos += 5;
      return false;
    }
    if (word !== undefined) {
      const next = this.text[this.pos + word.length];
      if (next === "'" || next === '"') this.fail(`string prefixes such as ${word}'...' are not supported`);
      this.fail(`'${word}' is not a Python literal (expected a string, number, None, True, False or list)`);
    }
    if (c === "(" || c === "{") this.fail(`expected a string, number or list, found '${c}' (tuples, sets and dicts are not supported)`);
    this.fail(`unexpected character '${c}'`);
  }

  parseNumber(): number {
    const start = this.pos;
    const m = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?/.exec(
      this.text.slice(start),
    );
    if (!m) this.fail("malformed number", start);
    const raw = m[0];
    const after = this.text[start + raw.length];
    if (after !== undefined && /[A-Za-z0-9_.]/.test(after)) this.fail(`malformed number '${raw}${after}'`, start);
    const digits = raw.replace(/_/g, "");
    // Python rejects leading zeros in ints ("01"), but accepts them in floats ("01.5").
    if (/^[+-]?0\d/.test(digits) && !/[.eE]/.test(digits)) this.fail(`malformed number '${raw}' (leading zero)`, start);
    const v = Number(digits);
    if (!Number.isFinite(v)) this.fail(`number '${raw}' is out of range`, start);
    this.pos += raw.length;
    return v;
  }

  parseString(quote: string): string {
    const t = this.text;
    const start = this.pos;
    if (t.startsWith(quote.repeat(3), start)) this.fail("triple-quoted strings are not supported", start);
    this.pos++;
    let out = "";
    let chunk = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail("unterminated string", start);
      const c = t[this.pos]!;
      if (c === quote) {
        out += t.slice(chunk, this.pos);
        this.pos++;
        return out;
      }
      if (c === "\n" || c === "\r") this.fail("line break inside a string", this.pos);
      if (c !== "\\") {
        this.pos++;
        continue;
      }
      out += t.slice(chunk, this.pos);
      const escAt = this.pos;
      const e = t[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case undefined:
          this.fail("unterminated string", start);
        case "\\":
        case "'":
        case '"':
          out += e;
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "a":
          out += "\x07";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "v":
          out += "\v";
          break;
        case "\n":
          break; // line continuation
        case "\r":
          if (t[this.pos] === "\n") this.pos++;
          break;
        case "x":
          out += this.hexEscape(2, escAt);
          break;
        case "u":
          out += this.hexEscape(4, escAt);
          break;
        case "U":
          out += this.hexEscape(8, escAt);
          break;
        case "N":
          this.fail("\\N{...} escapes are not supported", escAt);
        default:
          if (e >= "0" && e <= "7") {
            const m = /^[0-7]{1,3}/.exec(t.slice(this.pos - 1, this.pos + 2))![0];
            this.pos += m.length - 1;
            out += String.fromCodePoint(parseInt(m, 8));
          } else {
            // Python keeps unknown escapes as written.
            out += `\\${e}`;
          }
      }
      chunk = this.pos;
    }
  }

  hexEscape(len: number, escAt: number): string {
    const hex = this.text.slice(this.pos, this.pos + len);
    if (hex.length !== len || !/^[0-9A-Fa-f]+$/.test(hex)) {
      this.fail(`malformed escape '${this.text.slice(escAt, escAt + 2 + len)}' (expected ${len} hex digits)`, escAt);
    }
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) this.fail(`escape '${this.text.slice(escAt, escAt + 2 + len)}' is not a valid code point`, escAt);
    this.pos += len;
    return String.fromCodePoint(cp);
  }
}

/**
 * Parses a Python literal list. `where` says where the text came from, for error messages
 * (e.g. "info.csv line 4, column references"). Throws CivitasError("input") on bad input.
 */
export function parsePyList(text: string, where: string): PyValue[] {
  return new Parser(text, where).parseTop();
}

/** A Python literal list whose items must all be strings. */
export function parsePyStringList(text: string, where: string): string[] {
  const list = parsePyList(text, where);
  list.forEach((v, i) => {
    if (typeof v !== "string") {
      throw new CivitasError("input", `${where}: item ${i + 1} of ${JSON.stringify(text)} is not a string`, {
        hint: "expected a list of quoted strings such as ['Yes', 'No']",
      });
    }
  });
  return list as string[];
}

/** A Python literal list whose items must all be numbers. */
export function parsePyNumberList(text: string, where: string): number[] {
  const list = parsePyList(text, where);
  list.forEach((v, i) => {
    if (typeof v !== "number") {
      throw new CivitasError("input", `${where}: item ${i + 1} of ${JSON.stringify(text)} is not a number`, {
        hint: "expected a list of numbers such as [1.0, 2.0, 3.0]",
      });
    }
  });
  return list as number[];
}

/**
 * Parses a flat Python literal dict with string keys, in key order (e.g. `{'Brazil': 0.646,
 * 'France': 0.63}`). `where` says where the text came from, for error messages. Throws
 * CivitasError("input") on bad input, naming the character position.
 */
export function parsePyDict(text: string, where: string): Map<string, PyScalar> {
  return new Parser(text, where, "dict").parseTopDict();
}

function checkDictValues<T extends PyScalar>(
  text: string,
  where: string,
  test: (v: PyScalar) => v is T,
  what: string,
  example: string,
): Map<string, T> {
  const dict = parsePyDict(text, where);
  for (const [k, v] of dict) {
    if (!test(v)) {
      const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
      throw new CivitasError("input", `${where}: the value of ${JSON.stringify(k)} in ${JSON.stringify(shown)} is not ${what}`, {
        hint: `expected a dict such as ${example}`,
      });
    }
  }
  return dict as Map<string, T>;
}

/** A flat Python literal dict whose values must all be numbers (`{'Brazil': 0.646, 'France': 0.63}`). */
export function parsePyNumberDict(text: string, where: string): Map<string, number> {
  return checkDictValues(text, where, (v): v is number => typeof v === "number", "a number", "{'Japan': 0.5, 'Brazil': 0.6}");
}

/** A flat Python literal dict whose values must all be strings (`{'choice_format': 'numbers'}`). */
export function parsePyStringDict(text: string, where: string): Map<string, string> {
  return checkDictValues(text, where, (v): v is string => typeof v === "string", "a string", "{'choice_format': 'numbers'}");
}
