/**
 * Text similarity for few-shot retrieval: TF-IDF vectors of the words of each question (lower-cased
 * runs of letters and digits), compared by cosine. The inverse document frequency is scikit-learn's
 * smoothed one, idf(w) = ln((1 + N) / (1 + df(w))) + 1, over the N documents given (the train
 * questions), so a word found in every question still counts a little. A dozen lines: a library
 * would bring a tokenizer and stemmer civitas does not need.
 */

export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export interface TfIdf {
  /** The TF-IDF vector of a text (word -> weight), with the IDF of the documents the index was built on. */
  vector(text: string): Map<string, number>;
}

export function tfIdf(documents: readonly string[]): TfIdf {
  const df = new Map<string, number>();
  for (const d of documents) for (const w of new Set(words(d))) df.set(w, (df.get(w) ?? 0) + 1);
  const n = documents.length;
  return {
    vector(text) {
      const v = new Map<string, number>();
      for (const w of words(text)) v.set(w, (v.get(w) ?? 0) + 1);
      for (const [w, tf] of v) v.set(w, tf * (Math.log((1 + n) / (1 + (df.get(w) ?? 0))) + 1));
      return v;
    },
  };
}

/** Cosine of two sparse vectors; 0 when either is empty. */
export function cosine(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [w, x] of a) {
    na += x * x;
    const y = b.get(w);
    if (y !== undefined) dot += x * y;
  }
  for (const y of b.values()) nb += y * y;
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/**
 * The k documents most similar to a query, most similar first (ties: earlier document first), by
 * TF-IDF cosine over `documents`' vocabulary. Returns indices into `documents`.
 */
export function mostSimilar(documents: readonly string[], query: string, k: number, index: TfIdf = tfIdf(documents)): number[] {
  const q = index.vector(query);
  return documents
    .map((d, i) => ({ i, s: cosine(q, index.vector(d)) }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, k)
    .map((x) => x.i);
}
