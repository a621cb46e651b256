/**
 * Chat templates, system turns and where personas go (--chat-template, --system, --persona-in), on
 * real parts: stories260K through llama.cpp (its GGUF has no chat template, so ChatML is named),
 * OpinionQA from ../shared/data, a real DuckDB file, and an OpenAI-compatible server over HTTP.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chatWrappers } from "node-llama-cpp";
import { formatPrompt } from "../../src/models/chat.js";
import { CHAT_TEMPLATE_NAMES } from "../../src/models/llama-chat.js";
import type { LlamaClient } from "../../src/models/llama-client.js";
import { llamaSpec } from "../../src/models/llama.js";
import { openaiSpec } from "../../src/models/openai.js";
import type { ModelSpec } from "../../src/models/types.js";
import { runEval, type EvalPlan } from "../../src/runs/engine.js";
import { planEval } from "../../src/runs/stages/plan.js";
import { Store } from "../../src/store/store.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import { parseVariants } from "../../src/surveys/prompt.js";
import type { Suite } from "../../src/surveys/types.js";
import { runCli } from "../helpers/cli.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { ggufWithString } from "../helpers/gguf.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

let suite: Suite;
let dir: string;
before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA });
  dir = tempDir();
});

function plan(model: ModelSpec, overrides: Partial<EvalPlan> = {}): EvalPlan {
  return {
    suite,
    questions: suite.questions.slice(0, 4),
    populations: resolvePopulations(suite, ["POLPARTY"]),
    model,
    metric: "wasserstein",
    minCoverage: 0,
    seed: 0,
    resamples: 50,
    command: "test",
    ...overrides,
  };
}

// The first OpinionQA question as Santurkar et al.'s prompt shows it (written out by hand from
// the survey file: the question, the options labelled A-E, "Answer:").
const SAFECRIME =
  "Question: How safe, if at all, would you say your local community is from crime? Would you say it is\n" +
  "A. Very safe\nB. Somewhat safe\nC. Not too safe\nD. Not at all safe\nE. Refused\nAnswer:";

describe("chat templates on the llama backend", () => {
  let none: ModelSpec;
  let auto: ModelSpec;
  let chatml: ModelSpec;
  before(async () => {
    none = await llamaSpec(MODEL, { threads: 1, chatTemplate: "none" });
    auto = await llamaSpec(MODEL, { threads: 1 });
    chatml = await llamaSpec(MODEL, { threads: 1, chatTemplate: "chatml" });
  });

  it("renders ChatML exactly: BOS, the system and user turns, and the assistant's turn opened", () => {
    const [item] = planEval(plan(chatml, { system: "You answer surveys." })).items;
    // ChatML as OpenAI's chatml.md defines it; "<s>" is stories260K's BOS token (token 1 of its vocabulary).
    const expected =
      "<s><|im_start|>system\nYou answer surveys.<|im_end|>\n" +
      `<|im_start|>user\n${SAFECRIME}<|im_end|>\n` +
      "<|im_start|>assistant\n";
    assert.equal(item!.rendered.text, expected);
    assert.equal(chatml.chatTemplate?.id, "chatML");
  });

  it("renders a persona in the system turn or at the start of the user's (--persona-in)", () => {
    const persona = "Answer the following question as if in politics today you considered yourself a Republican.";
    const steered = (personaIn: "system" | "user") =>
      planEval(plan(chatml, { persona: true, personaIn, system: "Be brief." })).items.find((it) => it.persona.id === "POLPARTY=Republican" && it.question.id === "SAFECRIME_W26")!;
    assert.equal(
      steered("system").rendered.text,
      `<s><|im_start|>system\nBe brief.\n\n${persona}<|im_end|>\n<|im_start|>user\n${SAFECRIME}<|im_end|>\n<|im_start|>assistant\n`,
    );
    assert.equal(
      steered("user").rendered.text,
      `<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n${persona}\n\n${SAFECRIME}<|im_end|>\n<|im_start|>assistant\n`,
    );
  });

  it("auto on a GGUF without a template is raw text: the same prompts, keys and run as none, and as before templates", () => {
    assert.equal(auto.chatTemplate, undefined);
    const a = planEval(plan(auto));
    const n = planEval(plan(none));
    assert.equal(a.id, n.id);
    assert.deepEqual(
      a.items.map((it) => it.key),
      n.items.map((it) => it.key),
    );
    assert.equal(a.items[0]!.rendered.text, SAFECRIME);
    assert.equal(a.config["chat_template"], undefined);
    // With persona-in user (the default) and no system turn, the keys are those of a plan that never heard of turns.
    const steered = planEval(plan(auto, { persona: true }));
    const explicit = planEval(plan(auto, { persona: true, personaIn: "user" }));
    assert.equal(steered.id, explicit.id);
  });

  it("keys every request by the rendered prompt: template, system turn and persona placement each change it", () => {
    const keys = (spec: ModelSpec, o: Partial<EvalPlan> = {}) => planEval(plan(spec, { persona: true, ...o })).items.map((it) => it.key);
    const base = keys(none);
    const templated = keys(chatml);
    const withSystem = keys(none, { system: "You answer surveys." });
    const inSystem = keys(chatml, { personaIn: "system" });
    for (let i = 0; i < base.length; i++) {
      assert.notEqual(templated[i], base[i]);
      assert.notEqual(withSystem[i], base[i]);
    }
    const items = planEval(plan(chatml, { persona: true })).items;
    items.forEach((it, i) => {
      if (it.persona.id === "none") assert.equal(inSystem[i], templated[i], "no persona: --persona-in changes nothing");
      else assert.notEqual(inSystem[i], templated[i]);
    });
  });

  it("records the template's identity, the system turn and persona placement in the run's configuration", () => {
    const run = planEval(plan(chatml, { persona: true, personaIn: "system", system: "Be brief." }));
    assert.equal(run.config["chat_template"], "chatML");
    assert.equal(run.config["system"], "Be brief.");
    assert.equal(run.config["persona_in"], "system");
    assert.notEqual(run.id, planEval(plan(none, { persona: true, personaIn: "system", system: "Be brief." })).id);
  });

  it("ends every method's prompt where the assistant's turn begins", () => {
    for (const it of planEval(plan(chatml, { methods: ["logprobs", "sample", "verbalize"] })).items) {
      assert.ok(it.rendered.text.endsWith("<|im_end|>\n<|im_start|>assistant\n"), it.method);
    }
  });

  it("keeps shared prefixes a prefix of the rendered text (variants), and evaluates them", async () => {
    const p = plan(chatml, { questions: suite.questions.slice(0, 2), variants: parseVariants("standard;order=reversed") });
    const run = planEval(p);
    const split = run.items.filter((it) => it.prompt.prefix !== "");
    assert.equal(split.length, run.items.length, "every variant shares its question's prefix");
    for (const it of split) {
      assert.ok(it.prompt.text.startsWith(it.prompt.prefix));
      assert.ok(it.prompt.prefix.startsWith("<s><|im_start|>user\nQuestion: "), it.prompt.prefix);
      assert.equal(it.params["prefix_chars"], it.prompt.prefix.length);
    }
    const store = await Store.open(path.join(dir, "variants.duckdb"));
    try {
      const result = await runEval(store, p);
      assert.equal(result.questions.answered, 2);
      const answers = await store.answers(result.run);
      assert.equal(answers.length, 4);
      assert.ok(answers.every((a) => a.coverage > 0));
    } finally {
      await store.close();
    }
  });

  it("tokenizes a rendered prompt with its special tokens: the template's BOS is the BOS token, once", async () => {
    const client = (await chatml.open()) as LlamaClient;
    const rawClient = (await none.open()) as LlamaClient;
    try {
      const text = formatPrompt(chatml, { system: null, user: "Hi", userPrefix: "" }).text;
      assert.ok(text.startsWith("<s>"));
      const tokens = client.tokenize(text);
      assert.equal(tokens[0], 1, "BOS (token 1 of stories260K)");
      assert.notEqual(tokens[1], 1, "no second BOS");
      // As plain text "<s>" would take tokens of its own after the prepended BOS.
      assert.ok(tokens.length < rawClient.tokenize(text).length, "the template's <s> is one special token");
      // As raw text, "<s>" is three characters, not the BOS token: the raw path is unchanged.
      const raw = rawClient.tokenize("<s>Hi");
      assert.equal(raw[0], 1);
      assert.notEqual(raw[1], 1);
    } finally {
      await client.close();
      await rawClient.close();
    }
  });

  it("names node-llama-cpp's built-in wrappers, and refuses an unknown name listing them", async () => {
    const builtIn = Object.keys(chatWrappers).filter((n) => n !== "template" && n !== "jinjaTemplate");
    assert.deepEqual([...CHAT_TEMPLATE_NAMES].sort(), builtIn.sort());
    for (const name of CHAT_TEMPLATE_NAMES) {
      const spec = await llamaSpec(MODEL, { chatTemplate: name });
      const text = spec.chatTemplate!.render({ system: "S", user: "U" });
      assert.ok(text.includes("U"), name);
      // No template writes the day it runs: the same prompt tomorrow has the same key.
      assert.ok(!/20\d\d-\d\d-\d\d|Today Date/u.test(text), `${name}: ${text}`);
    }
    const e = await rejectsCivitas(llamaSpec(MODEL, { chatTemplate: "chatmlx" }), "usage");
    assert.match(e.message, /unknown chat template "chatmlx"/u);
    assert.match(e.hint ?? "", /auto .*none .*chatML, llama3, .*gemma/u);
  });
});

// Qwen2.5-Instruct's chat template without its tools branch (tokenizer_config.json of
// Qwen/Qwen2.5-0.5B-Instruct): a default system message when the prompt has none.
const QWEN_TEMPLATE = `{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- else %}
    {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant") %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
`;

describe("--chat-template auto on a GGUF that carries a Jinja template", () => {
  let spec: ModelSpec;
  before(async () => {
    // stories260K's weights with the template an instruct model's GGUF stores.
    const file = path.join(dir, "stories260K-qwen-template.gguf");
    ggufWithString(MODEL, file, "tokenizer.chat_template", QWEN_TEMPLATE);
    spec = await llamaSpec(file, { threads: 1 });
  });

  it("renders the stored template, default system message included, and names it by its hash", () => {
    const hash = createHash("sha256").update(QWEN_TEMPLATE).digest("hex").slice(0, 16);
    assert.equal(spec.chatTemplate?.id, `gguf:${hash}`);
    const run = planEval(plan(spec));
    assert.equal(run.config["chat_template"], `gguf:${hash}`);
    assert.equal(
      run.items[0]!.rendered.text,
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
        `<|im_start|>user\n${SAFECRIME}<|im_end|>\n<|im_start|>assistant\n`,
    );
    const withSystem = planEval(plan(spec, { system: "You answer surveys." }));
    assert.equal(withSystem.items[0]!.rendered.text, `<|im_start|>system\nYou answer surveys.<|im_end|>\n<|im_start|>user\n${SAFECRIME}<|im_end|>\n<|im_start|>assistant\n`);
  });

  it("asks the model the rendered prompt, end to end", async () => {
    const store = await Store.open(path.join(dir, "auto.duckdb"));
    try {
      const result = await runEval(store, plan(spec, { questions: suite.questions.slice(0, 2) }));
      assert.equal(result.questions.answered, 2);
      const answers = await store.answers(result.run);
      const requests = await store.lookupRequests(answers.map((a) => a.requestKey));
      for (const r of requests.values()) {
        assert.ok(r.prompt.startsWith("<|im_start|>system\nYou are Qwen"));
        assert.ok(r.coverage > 0);
      }
    } finally {
      await store.close();
    }
  });
});

describe("system turns and personas on an OpenAI-compatible server", () => {
  let server: LlamaOpenAIServer;
  before(async () => {
    server = await startLlamaOpenAIServer();
  });
  after(async () => server.close());

  it("sends the system turn as a system message and the persona where --persona-in puts it", async () => {
    const spec = openaiSpec("openai", "stories", { baseURL: server.url, concurrency: 2 });
    const persona = "Answer the following question as if in politics today you considered yourself a Democrat.";
    const store = await Store.open(path.join(dir, "openai.duckdb"));
    try {
      server.reset();
      const p = plan(spec, { questions: suite.questions.slice(0, 1), populations: resolvePopulations(suite, ["POLPARTY=Democrat"]), persona: true, system: "You answer surveys." });
      await runEval(store, { ...p, personaIn: "system" });
      const bodies = server.requests.map((r) => r.body as { messages: { role: string; content: string }[] });
      assert.equal(bodies.length, 2, "one unsteered, one steered prompt");
      const messages = bodies.map((b) => b.messages).sort((a, b) => a[0]!.content.length - b[0]!.content.length);
      assert.deepEqual(messages[0], [
        { role: "system", content: "You answer surveys." },
        { role: "user", content: SAFECRIME },
      ]);
      assert.deepEqual(messages[1], [
        { role: "system", content: `You answer surveys.\n\n${persona}` },
        { role: "user", content: SAFECRIME },
      ]);

      server.reset();
      await runEval(store, { ...p, personaIn: "user" });
      const steered = server.requests.map((r) => (r.body as { messages: { role: string; content: string }[] }).messages).find((m) => m[1]!.content !== SAFECRIME);
      assert.deepEqual(steered, [
        { role: "system", content: "You answer surveys." },
        { role: "user", content: `${persona}\n\n${SAFECRIME}` },
      ]);
      assert.equal(server.requests.length, 1, "the unsteered prompt is the same request: answered from the cache");
    } finally {
      await store.close();
    }
  });

  it("sends one user message when there is no system turn, as before", async () => {
    server.reset();
    const spec = openaiSpec("openai", "stories", { baseURL: server.url });
    const item = planEval(plan(spec)).items[0]!;
    assert.equal(item.rendered.system, null);
    assert.deepEqual(item.params, {});
    const store = await Store.open(path.join(dir, "openai-plain.duckdb"));
    try {
      await runEval(store, plan(spec, { questions: suite.questions.slice(0, 1) }));
      assert.deepEqual((server.requests[0]!.body as { messages: unknown }).messages, [{ role: "user", content: SAFECRIME }]);
    } finally {
      await store.close();
    }
  });
});

describe("civitas eval --chat-template --system", () => {
  it("runs end to end and stores the rendered prompt", async () => {
    const storeFile = path.join(dir, "cli.duckdb");
    const args = ["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--populations", "POLPARTY", "--limit", "2", "--store", storeFile, "--json", "--progress", "none"];
    const r = await runCli([...args, "--chat-template", "chatml", "--system", "You answer surveys."]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { run: string; questions: { answered: number } };
    assert.equal(result.questions.answered, 2);
    const store = await Store.open(storeFile);
    try {
      const run = await store.getRun(result.run);
      assert.equal((run!.config as Record<string, unknown>)["chat_template"], "chatML");
      assert.equal((run!.config as Record<string, unknown>)["system"], "You answer surveys.");
      const first = (await store.answers(result.run)).find((a) => a.questionId === "SAFECRIME_W26")!;
      const request = (await store.lookupRequests([first.requestKey])).get(first.requestKey)!;
      assert.equal(request.prompt, `<s><|im_start|>system\nYou answer surveys.<|im_end|>\n<|im_start|>user\n${SAFECRIME}<|im_end|>\n<|im_start|>assistant\n`);
    } finally {
      await store.close();
    }
    // auto on stories260K (no template) is the run of none.
    const a = await runCli([...args, "--chat-template", "auto"]);
    const n = await runCli([...args, "--chat-template", "none"]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal((JSON.parse(a.stdout) as { run: string }).run, (JSON.parse(n.stdout) as { run: string }).run);
  });

  it("refuses an unknown template with the choices, and a template on a backend that cannot use one", async () => {
    const unknown = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--chat-template", "chatmlx"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown chat template "chatmlx"/u);
    assert.match(unknown.stderr, /chatML, llama3/u);
    const server = await runCli(["eval", "opinionqa", "--model", "ollama:llama3.2", "--data", OPINIONQA, "--chat-template", "chatml"]);
    assert.equal(server.code, 2);
    assert.match(server.stderr, /--chat-template chatml applies to llama: models only/u);
    assert.match(server.stderr, /applies the model's own chat template/u);
  });
});
