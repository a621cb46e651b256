/**
 * A metric: the Hellinger distance, H(p, q) = sqrt(1/2 sum_i (sqrt(p_i) - sqrt(q_i))^2)
 * = sqrt(1 - sum_i sqrt(p_i q_i)), in [0, 1] (0 for equal distributions, 1 for distributions with
 * no option in common). Register it, then use it as
 * any built-in (`metric: "hellinger"`, `resolveConventions(suite, { metric: "hellinger" })`):
 *
 *   import { metrics } from "civitas";
 *   import { hellinger } from "./hellinger.js";
 *   metrics.register(hellinger);
 *
 * (In your own project, import the types from "civitas"; this file imports them from the source
 * so that the repository's tests check it.)
 */
import { z } from "zod";
import type { Metric } from "../../src/index.js";

export const hellinger: Metric = {
  name: "hellinger",
  description: "Hellinger distance",
  // No arguments.
  args: z.object({}),
  // How reports describe the alignment score, 1 - the mean distance over questions.
  label: "1 - Hellinger distance",
  source: "Hellinger 1909",
  // It compares the shares option by option: no ordinal scale needed.
  needsOrdinals: false,
  distance(p, q) {
    if (p.length !== q.length || p.length === 0) throw new RangeError(`distributions must have the same non-zero length (got ${p.length} and ${q.length})`);
    const sp = p.reduce((a, b) => a + b, 0);
    const sq = q.reduce((a, b) => a + b, 0);
    // The sum of squares, not 1 - sum sqrt(p q): exactly 0 for equal inputs, where the other form
    // leaves a rounding error whose square root is about 1e-8.
    let s = 0;
    for (let i = 0; i < p.length; i++) s += (Math.sqrt(p[i]! / sp) - Math.sqrt(q[i]! / sq)) ** 2;
    return Math.sqrt(s / 2);
  },
  // Its noise floor has no closed form that civitas knows: estimated by seeded simulation.
  noise: "simulated",
};
