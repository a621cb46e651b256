/**
 * The vocabulary tokens that are forms of an option label ("A", " A", "(A", "A.", "a"), per model.
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import { labelOfToken } from "./extract.js";

/** Token ids per lower-cased label text, built once per model from its vocabulary. */
export class LabelIndex {
  private readonly byText = new Map<string, Token[]>();
  private readonly cache = new Map<string, { token: Token; label: number }[]>();

  constructor(model: LlamaModel) {
    for (const token of model.iterateAllTokens()) {
      if (model.isSpecialToken(token)) continue;
      const text = model.detokenize([token]);
      // Only short tokens can be a label form ("A", " A", "(A", "A.", "12").
      if (text.length === 0 || text.length > 6) continue;
      const key = text.toLowerCase();
      const list = this.byText.get(key);
      if (list) list.push(token);
      else this.byText.set(key, [token]);
    }
  }

  /** Every vocabulary token that is a form of one of the labels. */
  forLabels(labels: readonly string[]): { token: Token; label: number }[] {
    const key = labels.join("\u0000");
    const hit = this.cache.get(key);
    if (hit) return hit;
    const out: { token: Token; label: number }[] = [];
    for (const [text, tokens] of this.byText) {
      const label = labelOfToken(text, labels);
      if (label >= 0) for (const token of tokens) out.push({ token, label });
    }
    this.cache.set(key, out);
    return out;
  }
}
