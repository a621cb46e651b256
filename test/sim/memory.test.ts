/**
 * The bounded agent memory (src/sim/memory.ts): the token estimate, first-sentence summaries, and
 * which entries are shown verbatim, summarised or dropped under a budget, on blocks whose lengths
 * are counted by hand; a memory that forgets what it can no longer show renders as the whole
 * history would.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { seededRng } from "../../src/metrics/index.js";
import { BoundedMemory, estimateTokens, firstSentence, MEMORY_HEADER, renderMemory, type MemoryEntry } from "../../src/sim/memory.js";

describe("token estimate and summaries", () => {
  it("estimates ceil(characters / 4) tokens", () => {
    assert.equal(estimateTokens(""), 0);
    assert.equal(estimateTokens("abcd"), 1);
    assert.equal(estimateTokens("abcde"), 2);
    assert.equal(estimateTokens("x".repeat(400)), 100);
  });

  it("summarises a message by its first sentence, cut to the limit", () => {
    assert.equal(firstSentence("We agree. Then more."), "We agree.");
    assert.equal(firstSentence("Why?  Because\nit is."), "Why?");
    assert.equal(firstSentence("Really! Yes."), "Really!");
    // a full stop not followed by a space ends no sentence
    assert.equal(firstSentence("Dr.Smith is here"), "Dr.Smith is here");
    assert.equal(firstSentence("  no end at all  "), "no end at all");
    // 16 characters, at most 10: 7 kept and "..."
    assert.equal(firstSentence("abcdefghijklmnop", 10), "abcdefg...");
    // trailing spaces before the cut are removed
    assert.equal(firstSentence("abcdef ghijklmnop", 10), "abcdef...");
  });
});

describe("renderMemory", () => {
  // Lines: "S: Alpha beta." (14), "S: Gamma delta." (15), "S: One. two three four five six" (31),
  // and its summary "S (in short): One." (18). Header "H" (1). Each line adds 1 for its newline.
  const entries: MemoryEntry[] = [
    { speaker: "S", text: "One. two three four five six" },
    { speaker: "S", text: "Alpha beta." },
    { speaker: "S", text: "Gamma delta." },
  ];

  it("shows everything verbatim when it fits", () => {
    // 1 + 32 + 15 + 16 = 64 characters <= 17 tokens x 4 = 68
    const r = renderMemory(entries, { budget: 17, header: "H" });
    assert.equal(r.text, "H\nS: One. two three four five six\nS: Alpha beta.\nS: Gamma delta.");
    assert.deepEqual([r.verbatim, r.summarised, r.dropped], [3, 0, 0]);
    assert.equal(r.text.length, 64);
  });

  it("summarises older entries that do not fit verbatim", () => {
    // cap 52: 1 + 16 + 15 = 32 for the two newest; the oldest verbatim would make 64, summarised 51
    const r = renderMemory(entries, { budget: 13, header: "H" });
    assert.equal(r.text, "H\nS (in short): One.\nS: Alpha beta.\nS: Gamma delta.");
    assert.deepEqual([r.verbatim, r.summarised, r.dropped], [2, 1, 0]);
    assert.ok(estimateTokens(r.text) <= 13);
  });

  it("drops the oldest entries when not even their summary fits", () => {
    // cap 48: 32 used, the summary would make 51
    const r = renderMemory(entries, { budget: 12, header: "H" });
    assert.equal(r.text, "H\nS: Alpha beta.\nS: Gamma delta.");
    assert.deepEqual([r.verbatim, r.summarised, r.dropped], [2, 0, 1]);
  });

  it("renders nothing when not even one line fits, and nothing for no entries", () => {
    // cap 12 < 1 + 16; the newest summarised "S (in short): Gamma delta." (26) does not fit either
    const r = renderMemory(entries, { budget: 3, header: "H" });
    assert.deepEqual(r, { text: "", verbatim: 0, summarised: 0, dropped: 3 });
    assert.equal(renderMemory([], { budget: 100 }).text, "");
    // at the bound: "H\nS: abcd" is 9 characters, one more than 2 tokens x 4, and fits 3 tokens
    assert.equal(renderMemory([{ speaker: "S", text: "abcd" }], { budget: 2, header: "H" }).text, "");
    assert.equal(renderMemory([{ speaker: "S", text: "abcd" }], { budget: 3, header: "H" }).text, "H\nS: abcd");
    assert.equal(renderMemory(entries, { budget: 0 }).text, "");
  });

  it("keeps newer entries verbatim and older ones summarised, never the other way round", () => {
    // the oldest is short enough to fit verbatim, but once an entry is summarised all older ones are
    const mixed: MemoryEntry[] = [{ speaker: "S", text: "Hi." }, ...entries];
    // cap 56: 32 for the two newest, the long one summarised makes 51, "S (in short): Hi." (17) would make 69
    const r = renderMemory(mixed, { budget: 14, header: "H" });
    assert.equal(r.text, "H\nS (in short): One.\nS: Alpha beta.\nS: Gamma delta.");
    assert.deepEqual([r.verbatim, r.summarised, r.dropped], [2, 1, 1]);
  });

  it("uses the default header", () => {
    assert.equal(renderMemory([{ speaker: "You", text: "Yes." }], { budget: 100 }).text, "What was said so far (oldest first):\nYou: Yes.");
  });

  it("refuses a budget that is not a whole number of tokens", () => {
    assert.throws(() => renderMemory(entries, { budget: -1 }), CivitasError);
    assert.throws(() => new BoundedMemory({ budget: 2.5 }), /memory budget must be a whole number/u);
  });
});

describe("BoundedMemory", () => {
  it("forgets what it dropped, even when a later summary would leave room for it", () => {
    // header "H"; cap 52. X's lines: "S: Xx." (6), "S (in short): Xx." (17); L's: 45 verbatim, its
    // summary "S (in short): Short." (20); N's: "S: Ok." (6).
    const X = { speaker: "S", text: "Xx." };
    const L = { speaker: "S", text: `Short. ${"a".repeat(35)}` };
    const N = { speaker: "S", text: "Ok." };
    const mem = new BoundedMemory({ budget: 13, header: "H" });
    mem.add(X, L);
    // L verbatim: 1 + 46 = 47; X would make 54 verbatim, 65 summarised: dropped, and forgotten
    assert.equal(mem.render(), `H\nS: ${L.text}`);
    assert.deepEqual(mem.kept(), [L]);
    mem.add(N);
    // N: 8; L no longer fits verbatim (54), summarised: 29; X's summary would fit (47), but it is gone
    assert.equal(mem.render(), "H\nS (in short): Short.\nS: Ok.");
    assert.equal(renderMemory([X, L, N], { budget: 13, header: "H" }).text, "H\nS (in short): Xx.\nS (in short): Short.\nS: Ok.");
  });

  it("never exceeds its budget and keeps the newest entries, the newest verbatim", () => {
    const rng = seededRng(7);
    const words = ["guns", "safety", "laws", "people", "I", "think", "we", "should", "not", "agree", "because"];
    const history: MemoryEntry[] = [];
    const mem = new BoundedMemory({ budget: 60 });
    for (let round = 0; round < 40; round++) {
      const batch: MemoryEntry[] = [];
      for (let k = 0; k < 3; k++) {
        const len = rng.int(1, 30);
        const text = Array.from({ length: len }, (_, w) => words[rng.int(0, words.length - 1)]! + (w % 7 === 6 ? "." : "")).join(" ");
        batch.push({ speaker: k === 0 ? "You" : `Participant ${k}`, text });
      }
      history.push(...batch);
      mem.add(...batch);
      const shown = mem.render();
      assert.ok(shown.length <= 60 * 4, `round ${round}: ${shown.length} characters`);
      assert.ok(mem.tokens() <= 60);
      const kept = mem.kept();
      assert.deepEqual(kept, history.slice(history.length - kept.length), "what is kept is the newest entries");
      assert.equal(shown, renderMemory(kept, { budget: 60 }).text);
      const newest = history[history.length - 1]!;
      const line = `${newest.speaker}: ${newest.text}`;
      if (MEMORY_HEADER.length + 1 + line.length <= 240) assert.ok(shown.endsWith(`\n${line}`), `round ${round}: the newest entry verbatim`);
    }
    // 120 entries added; what is kept is what can be shown (a 240-character block holds few lines)
    assert.ok(mem.kept().length < 20, `kept ${mem.kept().length}`);
    assert.equal(mem.view().dropped, 0);
  });

  it("collapses whitespace, and a clone is independent", () => {
    const a = new BoundedMemory({ budget: 100 });
    a.add({ speaker: "You", text: "  line one\n\nline   two " });
    const b = a.clone();
    b.add({ speaker: "Participant 2", text: "more" });
    assert.equal(a.render(), "What was said so far (oldest first):\nYou: line one line two");
    assert.equal(b.render(), "What was said so far (oldest first):\nYou: line one line two\nParticipant 2: more");
  });
});
