/**
 * --dry-run's prompt tokens: for a local GGUF model, the count of the tokens the llama backend
 * evaluates (its own tokenizer, BOS included), from the vocabulary alone; for servers an estimate,
 * labelled so, by hand.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { costOf, countLlamaTokens, estimateTokens } from "../../src/config/index.js";
import { llamaSpec, type LlamaClient } from "../../src/models/index.js";
import { MODEL } from "../helpers/paths.js";

const request = (prompt: string, params: Record<string, unknown> = {}, system: string | null = null) => ({ method: "logprobs", prompt, system, params });

describe("dry-run token counts", () => {
  let client: LlamaClient;
  before(async () => {
    client = (await (await llamaSpec(MODEL, { threads: 1 })).open()) as LlamaClient;
  });
  after(async () => {
    await client?.close();
  });

  it("a local model's: the tokens its backend evaluates, prompt by prompt", async () => {
    const prompts = ["Question: How safe is your neighbourhood?\nA. Very safe\nB. Not safe\nAnswer:", "Once upon a time"];
    const counted = await countLlamaTokens(MODEL, prompts.map((p) => request(p)), false);
    assert.equal(counted.counted, "tokenizer");
    assert.equal(counted.prompt, prompts.reduce((n, p) => n + client.tokenize(p).length, 0));
    assert.equal(counted.outputMax, 2);
  });

  it("a server's: ceil(characters / 4) + 4 per message, and max_tokens x n output tokens", () => {
    // 10 characters -> 3 + 4; with a 5-character system message -> 3 + 4 + 2 + 4.
    const e = estimateTokens([request("abcdefghij"), request("abcdefghij", { n: 5, max_tokens: 8 }, "sys12")]);
    assert.equal(e.counted, "estimate");
    assert.equal(e.prompt, 7 + 13);
    assert.equal(e.outputMax, 1 + 40);
    // 20 prompt tokens at 3 per million, 41 output tokens at 10 per million.
    assert.ok(Math.abs(costOf(e, { input: 3, output: 10 }) - (20 * 3 + 41 * 10) / 1e6) < 1e-18);
  });
});
