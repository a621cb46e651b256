/**
 * A model backend you bring without forking civitas: a `js:` provider module. This one runs a
 * GGUF model with civitas's own llama.cpp backend and applies temperature scaling to its answer:
 * each option's probability p becomes p^(1/T), renormalised (T = 2 flattens the distribution,
 * T = 0.5 sharpens it; the share on valid labels, the coverage, is kept).
 *
 *   civitas eval opinionqa --model js:examples/extending/temperature-provider.mjs#../shared/models/stories260K.gguf \
 *       --data ../shared/data/opinionqa --limit 20
 *
 * What follows `#` reaches the factory as `target` (here the model file); `options` are the
 * command line's model options (--threads, --parallel, ...). The `identity` export goes into every
 * cache key beside a hash of this file, so runs with another T, or another file, never share
 * cached answers with this one. docs/extending.md describes the contract.
 *
 * (It imports civitas by its package name: from a project that depends on civitas, or from inside
 * this repository once it is built.)
 */
import { llamaSpec } from "civitas";

const T = 2;

export const identity = `temperature=${T}`;

export default async function createClient(target, options) {
  const llama = await (await llamaSpec(target, options)).open();
  const scale = (mass) => {
    const total = mass.reduce((a, b) => a + b, 0);
    if (!(total > 0)) return mass;
    const scaled = mass.map((m) => (m / total) ** (1 / T));
    const sum = scaled.reduce((a, b) => a + b, 0);
    return scaled.map((s) => (s / sum) * total);
  };
  return {
    concurrency: llama.concurrency,
    async optionProbabilities(query, signal) {
      const a = await llama.optionProbabilities(query, signal);
      return { ...a, labelMass: scale(a.labelMass) };
    },
    // Sampled and stated answers pass through unchanged.
    complete: (query, signal) => llama.complete(query, signal),
    close: () => llama.close(),
  };
}
