/**
 * Steering a scenario's model-driven agents with Linear Alignment (Gao et al. 2024): the scenario
 * key `steer: { method: linear, a: 0.5 }`. Every agent's prompt (with its persona) is decoded
 * against the same prompt without the persona, token by token, on the in-process llama backend
 * (src/steer/decode.ts, the two-sequence loop `civitas steer` uses for generated text):
 *
 *   q ∝ p_persona^(1+a) · p_plain^(-a)
 *
 * over the whole vocabulary at every step; option distributions read q at the labels' tokens (the
 * loop's first step). a = 0 is the persona prompt alone; a > 0 moves further along the direction
 * the persona moved the model. Each agent kind renders its plain prompt (SimQuery.plain): opinion
 * and conformity the standard question prompt without the persona paragraph (the peers' sentence
 * kept), donor the game's prompt without the strategy line. A prompt without a persona is its own
 * plain prompt and is decoded on one side only.
 *
 * The steered model's identity is the model's with `+linear-decoding:a=<a>` (as `civitas steer`
 * names it), so steered answers are cached apart from plain ones and from other values of a; the
 * run's configuration records `steer` (a steered run has another id). Completions are sampled by
 * the loop's own seeded sampler (not llama.cpp's), so the same seed gives the same texts. The
 * prompt tokens counted against the budget are both sides' (a plain prompt that is its own side B
 * once).
 */
import { CivitasError } from "../errors.js";
import { asLlamaClient, linearWeight, openLinearDecoder, steeredClient, type MixtureDecoder } from "../steer/index.js";
import type { ModelClient, ModelSpec } from "../models/index.js";

/** A scenario's `steer` section, validated. */
export interface SteerSection {
  readonly method: "linear";
  /** Linear Alignment's strength: w = 1 + a on the persona prompt, -a on the plain one. */
  readonly a: number;
}

/** The identity of a model steered by `steer` (the request cache's model key). */
export function steeredIdentity(identity: string, steer: SteerSection): string {
  return `${identity}+linear-decoding:a=${steer.a}`;
}

/** A model spec whose client answers through the two-sequence loop, with the persona prompts' plain counterparts. */
export interface SteeredSpec extends ModelSpec {
  /** Tells the client the plain prompt of a prompt an agent is about to ask (before it is asked). */
  registerPlain(prompt: string, plain: string): void;
}

/**
 * `spec` steered by `steer`; refuses a model that is not on the in-process llama backend (`where`
 * names the scenario, for the message).
 */
export function steerSpec(spec: ModelSpec, steer: SteerSection, where: string): SteeredSpec {
  if (spec.backend !== "llama") {
    throw new CivitasError("usage", `${where}: steer (method ${steer.method}) decodes each agent's persona and plain prompts token by token on the in-process llama backend, but the model (${spec.display}) runs on the ${spec.backend} backend`, {
      hint: "give the model as llama:<file.gguf> (or llama:hf:<org>/<repo>/<file.gguf>), or remove steer",
    });
  }
  const plainOf = new Map<string, string>();
  const refPromptOf = (prompt: string): string => {
    const plain = plainOf.get(prompt);
    if (plain === undefined) throw new CivitasError("model", "steer: a prompt without its plain counterpart reached the decoding loop (an internal error)");
    return plain;
  };
  const identity = steeredIdentity(spec.identity, steer);
  return {
    backend: spec.backend,
    identity,
    display: `${spec.display} (linear a=${steer.a})`,
    params: spec.params,
    ...(spec.chatTemplate ? { chatTemplate: spec.chatTemplate } : {}),
    registerPlain(prompt, plain) {
      const known = plainOf.get(prompt);
      if (known !== undefined && known !== plain) {
        throw new CivitasError("model", `steer: one prompt has two plain counterparts (an internal error in the agents' prompts): ${JSON.stringify(prompt.slice(0, 80))}`);
      }
      plainOf.set(prompt, plain);
    },
    async open(): Promise<ModelClient> {
      const base = await spec.open();
      let decoder: MixtureDecoder;
      try {
        decoder = await openLinearDecoder(asLlamaClient(base, `the model of ${where}`));
      } catch (e) {
        await base.close();
        throw e;
      }
      const llama = asLlamaClient(base, `the model of ${where}`);
      const steered = steeredClient(decoder, { identity, weight: linearWeight(steer.a), refPromptOf });
      // Both prompts are evaluated: count side B's too (a prompt that is its own plain prompt once).
      const sideB = (prompt: string): number => {
        const ref = refPromptOf(prompt);
        return ref === prompt ? 0 : llama.tokenize(ref).length;
      };
      return {
        ...steered,
        optionProbabilities: async (query, signal) => {
          const answer = await steered.optionProbabilities(query, signal);
          return { ...answer, promptTokens: (answer.promptTokens ?? 0) + sideB(query.prompt) };
        },
        complete: async (query, signal) => {
          const answer = await steered.complete(query, signal);
          return { ...answer, promptTokens: (answer.promptTokens ?? 0) + sideB(query.prompt) };
        },
        close: async () => {
          try {
            await decoder.close();
          } finally {
            await base.close();
          }
        },
      };
    },
  };
}
