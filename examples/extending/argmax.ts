/**
 * An elicitation method: the model's first choice. All the mass goes to the option whose label
 * has the most next-token probability (a one-hot distribution), as evaluations that read a
 * model's single answer score it. Register it, then use it as any built-in:
 *
 *   import { methods, parseMethods } from "civitas";
 *   import { argmax } from "./argmax.js";
 *   methods.register(argmax);
 *   await runEval(store, { ..., methods: parseMethods(["logprobs", "argmax"]) });
 *
 * (In your own project, import the types from "civitas"; this file imports them from the source
 * so that the repository's tests check it.)
 */
import { z } from "zod";
import type { ElicitationMethod } from "../../src/index.js";

export const argmax: ElicitationMethod = {
  name: "argmax",
  description: "all the mass on the option the model finds most likely",
  // No arguments of its own (a method's arguments are the run's settings it uses: samples, constrain).
  args: z.object({}),
  // Its requests' parameters, part of their cache key (the method's name is too).
  params: () => ({}),
  async elicit(client, prompt, _settings, signal) {
    // The same question as logprobs: the probability of each option's label (or text, for prompts
    // answered with the option's text).
    const a = await client.optionProbabilities(
      { prompt: prompt.text, labels: prompt.labels, prefix: prompt.prefix, ...(prompt.answer === "text" ? { continuations: prompt.shown } : {}) },
      signal,
    );
    const best = a.labelMass.indexOf(Math.max(...a.labelMass));
    // No mass on any label: nothing to choose (the answer is set aside as off-format). Ties go to the first option shown.
    const labelMass = a.labelMass.map((m, i) => (i === best && m > 0 ? 1 : 0));
    return { labelMass, coverage: a.coverage, raw: { labelMass: a.labelMass }, mode: "none", promptTokens: a.promptTokens };
  },
};
