/**
 * A prompt's turns as a backend is asked them (ModelSpec.prompts, ModelSpec.chatTemplate):
 *
 * - "chat" backends (OpenAI-compatible servers): the user message is the prompt, the system turn
 *   goes as a system message; the server applies the model's template.
 * - "text" backends with a chat template (llama: --chat-template): the template's rendering of
 *   both turns, ending where the assistant's turn begins.
 * - "text" backends without one: the system turn, a blank line, then the user's (the user's alone
 *   when there is no system turn, as before system turns existed).
 *
 * The shared prefix (OptionQuery.prefix) stays a prefix of what is asked: everything the text
 * holds before the user's message, then the user's shared start. A template that changes the
 * user's text (trimming, escaping) so that it cannot be found gets no prefix: its prompts are
 * evaluated whole.
 */
import type { ModelSpec } from "./types.js";

/** The turns of one prompt, and the start of the user's message that other prompts share. */
export interface PromptTurns {
  readonly system: string | null;
  readonly user: string;
  /** A start of `user` ("" for none). */
  readonly userPrefix: string;
}

/** A prompt as a backend is asked it. */
export interface FormattedPrompt {
  /** The prompt text: what is stored and hashed into the request key. */
  readonly text: string;
  /** A start of `text` shared with other prompts ("" for none). */
  readonly prefix: string;
  /** The system message, for "chat" backends (else null: the text holds it). */
  readonly system: string | null;
}

/** The text of turns on a backend without a chat template. */
export function plainText(turns: PromptTurns): FormattedPrompt {
  const head = turns.system === null || turns.system === "" ? "" : `${turns.system}\n\n`;
  return { text: head + turns.user, prefix: turns.userPrefix === "" ? "" : head + turns.userPrefix, system: null };
}

export function formatPrompt(spec: Pick<ModelSpec, "prompts" | "chatTemplate">, turns: PromptTurns): FormattedPrompt {
  if (spec.prompts === "chat") return { text: turns.user, prefix: turns.userPrefix, system: turns.system === "" ? null : turns.system };
  if (spec.chatTemplate === undefined) return plainText(turns);
  const text = spec.chatTemplate.render({ system: turns.system === "" ? null : turns.system, user: turns.user });
  const at = turns.userPrefix === "" ? -1 : text.lastIndexOf(turns.user);
  return { text, prefix: at < 0 ? "" : text.slice(0, at) + turns.userPrefix, system: null };
}
