import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError } from "../../src/errors.js";
import {
  parsePyDict,
  parsePyList,
  parsePyNumberDict,
  parsePyNumberList,
  parsePyStringDict,
  parsePyStringList,
} from "../../src/surveys/pyliteral.js";

const SHARED = new URL("../../../shared/data/", import.meta.url);

/** Runs fn, asserts it throws one CivitasError of `kind`, and returns it. */
function throwsCivitas(fn: () => unknown, kind: string): CivitasError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CivitasError, `expected a CivitasError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    return e;
  }
  assert.fail("expected an error");
}

describe("parsePyList", () => {
  it("parses string lists with both quote styles and commas inside strings", () => {
    assert.deepEqual(parsePyList(`['Yes, I own a gun', "No, I don't own any guns", 'Refused']`, "t"), [
      "Yes, I own a gun",
      "No, I don't own any guns",
      "Refused",
    ]);
    assert.deepEqual(parsePyList(`["Associate's degree", 'a "quoted" word']`, "t"), [
      "Associate's degree",
      'a "quoted" word',
    ]);
  });

  it("parses numbers as Python writes them", () => {
    assert.deepEqual(parsePyList("[1.0, 2.0, 1.5]", "t"), [1, 2, 1.5]);
    assert.deepEqual(parsePyList("[1, 1, 1, 1]", "t"), [1, 1, 1, 1]);
    assert.deepEqual(parsePyList("[-3, +2, 0, 0.0, .5, 5., 1e3, 2.5E-1, 1_000, 007.5]", "t"), [
      -3, 2, 0, 0, 0.5, 5, 1000, 0.25, 1000, 7.5,
    ]);
  });

  it("parses nested lists, None, True, False, empty lists, whitespace and a trailing comma", () => {
    assert.deepEqual(parsePyList(" [ [1, 'a'], [], None, True, False, [[None]], ] ", "t"), [
      [1, "a"],
      [],
      null,
      true,
      false,
      [[null]],
    ]);
    assert.deepEqual(parsePyList("[]", "t"), []);
    assert.deepEqual(parsePyList("[\n  'a',\n  'b'\n]", "t"), ["a", "b"]);
  });

  it("decodes Python escapes", () => {
    const text = String.raw`['it\'s', "say \"hi\"", 'back\\slash', 'a\nb\tc\rd', '\x41\xe9', '\u00e9\u4e2d', '\U0001F600', '\101\0', 'keep \d', 'x\'']`;
    assert.deepEqual(parsePyList(text, "t"), [
      "it's",
      'say "hi"',
      "back\\slash",
      "a\nb\tc\rd",
      "Aé",
      "é中",
      "😀",
      "A\0",
      "keep \\d",
      "x'",
    ]);
  });

  it("parses every references / option_ordinal / metadata options cell of the real OpinionQA data", () => {
    const info = readFileSync(new URL("opinionqa/human_resp/American_Trends_Panel_W26/info.csv", SHARED));
    const rows = parseCsv(info, { columns: true }) as Record<string, string>[];
    const gun = rows.find((r) => r.key === "GUN_W26");
    assert.ok(gun);
    assert.deepEqual(parsePyStringList(gun.references!, "GUN_W26 references"), [
      "Yes, I own a gun",
      "No, I don't own any guns",
      "Refused",
    ]);
    const wd = rows.find((r) => r.key === "WORLDDANGER_W26")!;
    assert.deepEqual(parsePyNumberList(wd.option_ordinal!, "WORLDDANGER_W26 option_ordinal"), [1, 2, 1.5]);
    for (const r of rows) {
      const refs = parsePyStringList(r.references!, `${r.key} references`);
      const ords = parsePyNumberList(r.option_ordinal!, `${r.key} option_ordinal`);
      assert.ok(refs.length >= ords.length && ords.length > 0, r.key);
    }
    const meta = parseCsv(readFileSync(new URL("opinionqa/human_resp/American_Trends_Panel_W26/metadata.csv", SHARED)), {
      columns: true,
    }) as Record<string, string>[];
    const edu = meta.find((r) => r.key === "EDUCATION")!;
    assert.deepEqual(parsePyStringList(edu.options!, "EDUCATION"), [
      "Less than high school",
      "High school graduate",
      "Some college, no degree",
      "Associate's degree",
      "College graduate/some postgrad",
      "Postgraduate",
    ]);
  });

  it("parses the GlobalOpinionQA MC_options strings (reused later)", () => {
    const data = JSON.parse(readFileSync(new URL("distalign/globalvalues/data.json", SHARED), "utf8")) as Record<
      string,
      { MC_options: string }
    >;
    const entries = Object.entries(data);
    assert.equal(entries.length, 100);
    for (const [q, v] of entries) {
      const opts = parsePyStringList(v.MC_options, q);
      assert.ok(opts.length >= 2, q);
      // No quote characters leak into the options (a naive split on ", " would leave some).
      for (const o of opts) assert.ok(!o.startsWith("'") && !o.endsWith("'"), o);
    }
    assert.deepEqual(parsePyStringList(entries[0]![1].MC_options, "first"), [
      "Being tough with China",
      "Having a strong relationship with China",
      "Being tough with China on territorial disputes",
      "Having a strong economic relationship with China",
      "DK/Refused",
    ]);
  });

  it("rejects bad input with an input error naming where and the character position", () => {
    const where = "info.csv line 4, column references";
    const cases: [string, number, RegExp][] = [
      ["['a' 'b']", 6, /expected ',' or '\]'/],
      ["['a', 'b'", 10, /unexpected end/],
      ["['a', 'b", 7, /unterminated string/],
      ["['a'] x", 7, /after the closing/],
      ["", 1, /empty/],
      ["'a', 'b'", 1, /expected '\['/],
      ["[nan, 1.0]", 2, /'nan' is not a Python literal/],
      ["[(1, 2)]", 2, /tuples/],
      ["[{1: 'a'}]", 2, /dicts/],
      ["['\\x4']", 3, /malformed escape/],
      ["['\\u12g4']", 3, /malformed escape/],
      ["[1.2.3]", 2, /malformed number/],
      ["[01]", 2, /leading zero/],
      ["[-]", 2, /malformed number/],
      ["[u'a']", 2, /prefixes/],
      ["['''a''']", 2, /triple-quoted/],
      ["['a\nb']", 4, /line break/],
      ["[1,,2]", 4, /unexpected character ','/],
    ];
    for (const [text, pos, re] of cases) {
      const e = throwsCivitas(() => parsePyList(text, where), "input");
      assert.ok(e.message.startsWith(`${where}: `), e.message);
      assert.match(e.message, re, text);
      assert.match(e.message, new RegExp(`at character ${pos} `), `${text}: ${e.message}`);
      assert.ok(e.hint);
    }
  });

  it("typed variants reject items of the wrong type", () => {
    const e1 = throwsCivitas(() => parsePyStringList("['a', 2]", "f.csv line 2, column options"), "input");
    assert.match(e1.message, /f\.csv line 2, column options: item 2 .* is not a string/);
    const e2 = throwsCivitas(() => parsePyNumberList("[1.0, '2']", "f.csv line 3, column option_ordinal"), "input");
    assert.match(e2.message, /line 3, column option_ordinal: item 2 .* is not a number/);
    throwsCivitas(() => parsePyNumberList("[1.0, None]", "x"), "input");
    throwsCivitas(() => parsePyNumberList("[True]", "x"), "input");
  });
});

describe("parsePyDict", () => {
  it("parses flat dicts in key order: numbers, strings, None, True, False, escapes, a trailing comma", () => {
    assert.deepEqual(
      [...parsePyDict("{'Brazil': 0.646, 'France': 0.63}", "t")],
      [
        ["Brazil", 0.646],
        ["France", 0.63],
      ],
    );
    assert.deepEqual(
      [...parsePyDict("{'1': 1, '2': 2}", "t")],
      [
        ["1", 1],
        ["2", 2],
      ],
    );
    assert.deepEqual(
      [...parsePyDict(` { "it's" : 'a', 'b':None,'c': True, 'd': False, 'e': -1.5e-3, } `, "t")],
      [
        ["it's", "a"],
        ["b", null],
        ["c", true],
        ["d", false],
        ["e", -0.0015],
      ],
    );
    assert.equal(parsePyDict("{}", "t").size, 0);
    assert.equal(parsePyDict(String.raw`{'\u00e9t\u00e9': 1}`, "t").get("été"), 1);
  });

  it("parses every variation, label_to_scale and mean_weights cell of the real RnR data", () => {
    const csv = readFileSync(new URL("cultural-stability/global_opinion_data.csv", SHARED));
    const rows = parseCsv(csv, { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 616);
    for (const r of rows) {
      const v = parsePyStringDict(r.variation!, "variation");
      assert.deepEqual([...v.keys()], ["choice_format", "direction_format", "response_format"]);
      const l = parsePyNumberDict(r.label_to_scale!, "label_to_scale");
      assert.deepEqual(
        [...l.values()].sort((a, b) => a - b),
        Array.from({ length: l.size }, (_, i) => i + 1),
      );
      assert.equal(parsePyNumberDict(r.mean_weights!, "mean_weights").size, 15);
    }
    const first = parsePyNumberDict(rows[0]!.mean_weights!, "mean_weights");
    assert.equal(first.get("Brazil"), 0.6464646464646464);
    assert.equal(first.get("United States"), 0.6258503401360543);
  });

  it("rejects bad input with an input error naming where, the character position and 'dict'", () => {
    const where = "data.csv line 3, column mean_weights";
    const cases: [string, number, RegExp][] = [
      ["", 1, /expected '\{' but the text is empty/],
      ["['a']", 1, /expected '\{'/],
      ["{'a': 1", 8, /unexpected end, expected ',' or '\}'/],
      ["{'a': 1 'b': 2}", 9, /expected ',' or '\}' but found '''/],
      ["{'a' 1}", 6, /expected ':' but found '1'/],
      ["{'a':}", 6, /unexpected character '\}'/],
      ["{1: 'a'}", 2, /keys must be quoted strings/],
      ["{'a': 1, 'a': 2}", 10, /key "a" is listed twice/],
      ["{'a': [1, 2]}", 7, /value of "a" is a list, dict or tuple/],
      ["{'a': {'b': 1}}", 7, /list, dict or tuple/],
      ["{'a': nan}", 7, /'nan' is not a Python literal/],
      ["{'a': np.float64(0.5)}", 7, /'np' is not a Python literal/],
      ["{'a': 1} x", 10, /after the closing '\}'/],
      ["{'a: 1}", 2, /unterminated string/],
      ["{'a': 1,,}", 9, /keys must be quoted strings, found ','/],
    ];
    for (const [text, pos, re] of cases) {
      const e = throwsCivitas(() => parsePyDict(text, where), "input");
      assert.ok(e.message.startsWith(`${where}: `), e.message);
      assert.match(e.message, re, text);
      assert.match(e.message, new RegExp(`at character ${pos} of the Python dict `), `${text}: ${e.message}`);
      assert.match(e.hint ?? "", /flat Python literal dict/);
    }
  });

  it("typed variants reject values of the wrong type; lists keep their messages", () => {
    const e1 = throwsCivitas(
      () => parsePyNumberDict("{'Brazil': 0.6, 'France': '0.6'}", "f.csv line 2, column mean_weights"),
      "input",
    );
    assert.match(e1.message, /f\.csv line 2, column mean_weights: the value of "France" in .* is not a number/);
    throwsCivitas(() => parsePyNumberDict("{'a': None}", "x"), "input");
    throwsCivitas(() => parsePyNumberDict("{'a': True}", "x"), "input");
    const e2 = throwsCivitas(() => parsePyStringDict("{'choice_format': 1}", "v"), "input");
    assert.match(e2.message, /the value of "choice_format" .* is not a string/);
    const e3 = throwsCivitas(() => parsePyList("['a'", "w"), "input");
    assert.match(e3.message, /of the Python list /);
    assert.equal(e3.hint, "the value must be a Python literal list such as ['Yes', 'No'] or [1.0, 2.0]");
  });
});
