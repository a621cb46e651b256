/**
 * A bounded memory per agent: what an agent has read and said, as its prompts show it, kept under
 * a token budget so that a prompt never grows with the length of the conversation. Reusable by any
 * scenario whose agents read each other (`debate`, src/sim/agents/debate.ts).
 *
 * Tokens. The SimModel does not tokenize, and a budget must hold for any backend, so tokens are
 * estimated as `civitas eval --dry-run` estimates them for servers (src/config/tokens.ts): one token
 * per CHARS_PER_TOKEN = 4 characters (UTF-16 code units) of text, rounded up
 * (`estimateTokens`). A memory whose rendered text has at most 4 x budget characters has an
 * estimate of at most `budget` tokens; that is the bound `render` keeps. (English text with BPE
 * tokenizers averages about 4 characters a token; a real tokenizer may count somewhat more on
 * unusual text: the bound is on the estimate.)
 *
 * Rendering (`renderMemory`). Entries are kept oldest first. The rendered block is a header line
 * and one line per entry shown, oldest first:
 *
 *     What was said so far (oldest first):
 *     Participant 3 (in short): We should fund the police.
 *     You (in short): I disagree.
 *     Participant 3: Crime has gone down here, and the numbers show it. So I feel safe.
 *     You: I still worry about my street at night.
 *
 * Lines are chosen from the newest entry backwards: while its full line fits in what is left of
 * the budget it is shown verbatim; from the first entry whose full line does not fit, that entry
 * and every older one are shown summarised ("(in short)": `firstSentence`, at most
 * `summaryChars` characters); from the first summary that does not fit, that entry and every older
 * one are dropped. So the most recent messages are verbatim, older ones short, the oldest gone, and
 * the block (header included) never exceeds the budget; when not even the header and one line fit,
 * the memory renders as "" (nothing read).
 *
 * Why summaries without a model. A summary by the model would be another call per agent and step
 * (cost, and more recorded calls to replay) and would let the model's own bias rewrite what the
 * agent remembers; the first sentence of a short discussion message usually carries its stance
 * (messages are asked for in one or two sentences), it is deterministic, and it costs nothing.
 *
 * Forgetting. `BoundedMemory.add` forgets the entries its rendering drops, so what an agent keeps is
 * bounded by the budget too, and a dropped entry never comes back, even when newer entries later
 * turn a long verbatim line into a short summary and leave room for it (a person does not recall
 * what they have forgotten; `renderMemory` over the whole history would show it again).
 */
import { CivitasError } from "../errors.js";
import { CHARS_PER_TOKEN, estimateTextTokens } from "../tokens.js";

/** One thing an agent read or said. */
export interface MemoryEntry {
  /** Who said it, as the agent sees it: "You", "Participant 3". */
  readonly speaker: string;
  /** What was said (whitespace is collapsed to single spaces when it is added). */
  readonly text: string;
}

export interface MemoryOptions {
  /** The most tokens (estimated, see `estimateTokens`) the rendered memory may take; an integer >= 0. */
  readonly budget: number;
  /** The longest summary of an older entry, in characters (default 160). */
  readonly summaryChars?: number;
  /** The first line of the block (default "What was said so far (oldest first):"). */
  readonly header?: string;
}

export const MEMORY_HEADER = "What was said so far (oldest first):";
export const SUMMARY_CHARS = 160;
/** What a summarised line's speaker is followed by. */
export const SUMMARY_MARK = " (in short)";

/** Estimated tokens of a text: ceil(characters / CHARS_PER_TOKEN) (src/tokens.ts's estimate). */
export function estimateTokens(text: string): number {
  return estimateTextTokens(text);
}

/** Collapses runs of whitespace (newlines included) to one space and trims. */
export function oneLine(text: string): string {
  return text.replace(/\s+/gu, " ").trim();
}

/**
 * The first sentence of a text: up to and including the first `.`, `!` or `?` that is followed by
 * whitespace or ends the text; the whole text when there is none. Longer than `maxChars`: cut to
 * maxChars - 3 characters (whole code points), trailing spaces removed, and "..." added.
 */
export function firstSentence(text: string, maxChars: number = SUMMARY_CHARS): string {
  const t = oneLine(text);
  const m = /^(.*?[.!?])(?:\s|$)/u.exec(t);
  const s = m === null ? t : m[1]!;
  if (s.length <= maxChars) return s;
  const cps = Array.from(s);
  let out = "";
  for (const c of cps) {
    if (out.length + c.length > maxChars - 3) break;
    out += c;
  }
  return `${out.trimEnd()}...`;
}

export interface RenderedMemory {
  /** The block as prompts show it ("" when nothing is shown). */
  readonly text: string;
  /** Entries shown verbatim, summarised, and dropped (oldest first: dropped, then summarised, then verbatim). */
  readonly verbatim: number;
  readonly summarised: number;
  readonly dropped: number;
}

function checkOptions(o: MemoryOptions): void {
  if (!(Number.isInteger(o.budget) && o.budget >= 0)) throw new CivitasError("usage", `memory budget must be a whole number of tokens >= 0, got ${o.budget}`);
  const s = o.summaryChars;
  if (s !== undefined && !(Number.isInteger(s) && s >= 4)) throw new CivitasError("usage", `memory summaryChars must be a whole number >= 4, got ${s}`);
}

/** The memory block of `entries` (oldest first) under the budget; see the module comment. */
export function renderMemory(entries: readonly MemoryEntry[], options: MemoryOptions): RenderedMemory {
  checkOptions(options);
  const header = options.header ?? MEMORY_HEADER;
  const summaryChars = options.summaryChars ?? SUMMARY_CHARS;
  const cap = options.budget * CHARS_PER_TOKEN;
  const lines: string[] = []; // newest first
  let used = header.length;
  let verbatim = 0;
  let summarised = 0;
  let i = entries.length - 1;
  for (; i >= 0; i--) {
    const e = entries[i]!;
    const line = `${e.speaker}: ${e.text}`;
    if (used + 1 + line.length > cap) break;
    lines.push(line);
    used += 1 + line.length;
    verbatim++;
  }
  for (; i >= 0; i--) {
    const e = entries[i]!;
    const line = `${e.speaker}${SUMMARY_MARK}: ${firstSentence(e.text, summaryChars)}`;
    if (used + 1 + line.length > cap) break;
    lines.push(line);
    used += 1 + line.length;
    summarised++;
  }
  const dropped = i + 1;
  if (lines.length === 0) return { text: "", verbatim: 0, summarised: 0, dropped };
  return { text: `${header}\n${lines.reverse().join("\n")}`, verbatim, summarised, dropped };
}

/** An agent's memory: entries added as they are read or said, rendered under the budget. */
export class BoundedMemory {
  private entries: MemoryEntry[] = [];
  private rendered: RenderedMemory | null = null;

  constructor(readonly options: MemoryOptions) {
    checkOptions(options);
  }

  /** Adds entries (oldest first), then forgets those that can no longer be shown. */
  add(...entries: readonly MemoryEntry[]): void {
    for (const e of entries) this.entries.push({ speaker: oneLine(e.speaker), text: oneLine(e.text) });
    const r = renderMemory(this.entries, this.options);
    if (r.dropped > 0) this.entries = this.entries.slice(r.dropped);
    this.rendered = { ...r, dropped: 0 };
  }

  /** The block as prompts show it ("" when empty). */
  render(): string {
    return this.view().text;
  }

  /** Rendered with its counts (dropped is 0: dropped entries are forgotten). */
  view(): RenderedMemory {
    this.rendered ??= renderMemory(this.entries, this.options);
    return this.rendered;
  }

  /** Estimated tokens of the rendered block (<= the budget). */
  tokens(): number {
    return estimateTokens(this.render());
  }

  /** Entries kept (those shown verbatim or summarised), oldest first. */
  kept(): readonly MemoryEntry[] {
    return this.entries;
  }

  /** An independent copy (a step builds the next memories on copies, and keeps them only if the step completes). */
  clone(): BoundedMemory {
    const c = new BoundedMemory(this.options);
    c.entries = [...this.entries];
    c.rendered = this.rendered;
    return c;
  }
}
