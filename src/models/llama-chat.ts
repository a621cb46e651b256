/**
 * Chat templates of the in-process backend (`--chat-template auto|none|<name>`): how a system turn
 * and a user turn become the text an instruct model is asked, ending where the assistant's turn
 * begins, so that the next token is the first of the model's answer.
 *
 * - `auto` (the default): the Jinja template stored in the GGUF (`tokenizer.chat_template`),
 *   rendered by node-llama-cpp's JinjaTemplateChatWrapper as the model's makers wrote it; a GGUF
 *   without one (base models, stories260K) gets the raw text, as `none`.
 * - `none`: the raw text (base models).
 * - a name: one of node-llama-cpp's built-in chat wrappers (chatML, llama3, gemma, ...), for a
 *   GGUF whose template is missing or wrong.
 *
 * The rendered text keeps the template's special tokens as text ("<|im_start|>"); the client
 * tokenizes a templated prompt with special tokens parsed (llama-client.ts), so they become the
 * model's control tokens again. A template's "BOS"/"EOS" tokens are written as the GGUF's token
 * texts. The template's identity (`chatML`, or `gguf:` + the first 16 hex digits of the SHA-256 of
 * the Jinja text) is part of a run's configuration; the rendered text is what the request key hashes.
 */
import type { ChatHistoryItem, ChatWrapper, GgufFileInfo } from "node-llama-cpp";
import { CivitasError, messageOf } from "../errors.js";
import { sha256Hex } from "../hash.js";
import type { ChatTemplate, ChatTurns } from "./types.js";

/**
 * node-llama-cpp's built-in chat wrappers (3.21.1 `chatWrappers`, without the generic `template`
 * and `jinjaTemplate`), as `--chat-template` accepts them (case does not matter). Kept here so
 * that help texts need not load node-llama-cpp; a test checks it against the library's list.
 */
export const CHAT_TEMPLATE_NAMES = [
  "chatML",
  "llama3",
  "llama3.1",
  "llama3.2-lightweight",
  "llama2Chat",
  "gemma",
  "gemma4",
  "mistral",
  "qwen",
  "deepSeek",
  "alpacaChat",
  "falconChat",
  "functionary",
  "general",
  "harmony",
  "muse",
  "seed",
] as const;

/** `--chat-template`'s values: auto, none, or a built-in wrapper's name. */
export type ChatTemplateChoice = string;

export const CHAT_TEMPLATE_HELP = `auto (the GGUF's own template; raw text when it has none), none (raw text), or a built-in: ${CHAT_TEMPLATE_NAMES.join(", ")}`;

/** The canonical name of a built-in wrapper, or undefined. */
export function chatTemplateName(choice: string): (typeof CHAT_TEMPLATE_NAMES)[number] | undefined {
  const c = choice.trim().toLowerCase();
  return CHAT_TEMPLATE_NAMES.find((n) => n.toLowerCase() === c);
}

/** Throws CivitasError("usage") unless `choice` is auto, none or a built-in name. */
export function checkChatTemplateChoice(choice: string): void {
  const c = choice.trim().toLowerCase();
  if (c === "auto" || c === "none" || chatTemplateName(c) !== undefined) return;
  throw new CivitasError("usage", `unknown chat template "${choice}"`, {
    hint: `--chat-template takes ${CHAT_TEMPLATE_HELP}`,
  });
}

/**
 * Settings of the wrappers that need them. Some write today's date into the system turn by
 * default: a prompt must not change with the day it is asked (its text is hashed into the request
 * key), so they get no date; the Llama 3.1 and 3.2 ones add tool instructions, which a survey
 * prompt has no use for (Meta's own template writes them only when tools are given).
 */
const WRAPPER_SETTINGS: Partial<Record<(typeof CHAT_TEMPLATE_NAMES)[number], object>> = {
  "llama3.1": { todayDate: null, noToolInstructions: true },
  "llama3.2-lightweight": { todayDate: null, noToolInstructions: true },
  harmony: { todayDate: null },
  muse: { todayDate: null },
};

/**
 * The chat template `choice` names for the GGUF whose header is `info`, or null for raw text
 * (`none`, or `auto` on a GGUF without a template). Throws CivitasError("usage") for an unknown
 * name, CivitasError("input") for a template that cannot be rendered.
 */
export async function resolveChatTemplate(choice: string, info: GgufFileInfo, where: string): Promise<ChatTemplate | null> {
  checkChatTemplateChoice(choice);
  const c = choice.trim().toLowerCase();
  if (c === "none") return null;
  const nlc = await import("node-llama-cpp");
  let wrapper: ChatWrapper;
  let id: string;
  if (c === "auto") {
    const jinja = (info.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
    if (typeof jinja !== "string" || jinja.trim() === "") return null;
    id = `gguf:${sha256Hex(jinja).slice(0, 16)}`;
    try {
      // reasoning: null leaves a thinking switch at the template's own default, as Hugging Face's apply_chat_template does.
      wrapper = new nlc.JinjaTemplateChatWrapper({ template: jinja, reasoning: null });
    } catch (e) {
      throw new CivitasError("input", `the chat template stored in ${where} cannot be read: ${messageOf(e)}`, {
        hint: `name a built-in template instead (--chat-template ${CHAT_TEMPLATE_NAMES.slice(0, 4).join("|")}|...), or --chat-template none for raw text`,
        cause: e,
      });
    }
  } else {
    const name = chatTemplateName(c)!;
    id = name;
    const Wrapper = nlc.chatWrappers[name] as unknown as new (options?: object) => ChatWrapper;
    wrapper = new Wrapper(WRAPPER_SETTINGS[name] ?? {});
  }
  const specials = specialTokenTexts(info);
  const render = (turns: ChatTurns): string => {
    const history: ChatHistoryItem[] = [
      ...(turns.system === null ? [] : [{ type: "system" as const, text: turns.system }]),
      { type: "user", text: turns.user },
      // An empty answer of the model: the text ends where its turn begins.
      { type: "model", response: [] },
    ];
    let text;
    try {
      text = wrapper.generateContextState({ chatHistory: history }).contextText;
    } catch (e) {
      throw new CivitasError("input", `the chat template ${id} of ${where} failed to render a prompt: ${messageOf(e)}`, {
        hint: "name a built-in template instead (--chat-template <name>), or --chat-template none for raw text",
        cause: e,
      });
    }
    return text.values
      .map((v) => {
        if (typeof v === "string") return v;
        if (v instanceof nlc.SpecialTokensText) return v.value;
        const t = specials[v.value];
        if (t === undefined) {
          throw new CivitasError("input", `the chat template ${id} needs the model's ${v.value} token, which ${where} does not name`, {
            hint: "name another built-in template (--chat-template <name>), or --chat-template none for raw text",
          });
        }
        return t;
      })
      .join("");
  };
  // Render once now: a template that fails, fails before anything is asked.
  render({ system: "s", user: "u" });
  return { id, render };
}

/** The texts of the special tokens a chat wrapper may name, from the GGUF's vocabulary. */
function specialTokenTexts(info: GgufFileInfo): Partial<Record<"BOS" | "EOS" | "EOT" | "SEP" | "NL", string>> {
  const ggml = (info.metadata as { tokenizer?: { ggml?: Record<string, unknown> } }).tokenizer?.ggml ?? {};
  const tokens = Array.isArray(ggml["tokens"]) ? (ggml["tokens"] as unknown[]) : [];
  const text = (key: string): string | undefined => {
    const id = ggml[key];
    const t = typeof id === "number" ? tokens[id] : undefined;
    return typeof t === "string" ? t : undefined;
  };
  const out: Partial<Record<"BOS" | "EOS" | "EOT" | "SEP" | "NL", string>> = { NL: "\n" };
  const bos = text("bos_token_id");
  const eos = text("eos_token_id");
  const eot = text("eot_token_id") ?? eos;
  const sep = text("seperator_token_id") ?? text("separator_token_id");
  if (bos !== undefined) out.BOS = bos;
  if (eos !== undefined) out.EOS = eos;
  if (eot !== undefined) out.EOT = eot;
  if (sep !== undefined) out.SEP = sep;
  return out;
}
