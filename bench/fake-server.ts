/**
 * A fake OpenAI-compatible chat endpoint over real HTTP on 127.0.0.1, for benchmarks whose
 * bottleneck must be the server (bench/scale) or must not be (bench/societies): after `latency` ms,
 * at most `limit` requests at once, every prompt gets the text "A" and the same top
 * log-probabilities over `tokens` (8/36, 7/36, ... 1/36).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function fakeServer(latency: number, limit: number, tokens: readonly string[] = ["A", "B", "C", "D", "1", "2", "3", "4"]): Promise<FakeServer> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const top = tokens.map((t, i) => ({ token: t, logprob: Math.log((tokens.length - i) / ((tokens.length * (tokens.length + 1)) / 2)), bytes: [t.charCodeAt(0)] }));
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", async () => {
      if (running >= limit) await new Promise<void>((r) => waiting.push(r));
      running++;
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      const n = Math.max(1, Number((JSON.parse(body) as { top_logprobs?: number }).top_logprobs ?? 1));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "fake",
          object: "chat.completion",
          created: 0,
          model: "fake",
          choices: [{ index: 0, message: { role: "assistant", content: "A" }, logprobs: { content: [{ ...top[0], top_logprobs: top.slice(0, n) }] }, finish_reason: "length" }],
          usage: { prompt_tokens: 50, completion_tokens: 1, total_tokens: 51 },
        }),
      );
      running--;
      waiting.shift()?.();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}
