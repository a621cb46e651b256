/**
 * A real redis-server for a test: on a free port of 127.0.0.1, in a temporary folder, keeping
 * nothing on disk (--save '' --appendonly no), so a restart comes back empty, as the issue's fault
 * does. `.ci/run` installs the Debian package redis-server when it is missing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { tempDir } from "../helpers/paths.js";

export interface TestRedis {
  readonly port: number;
  /** redis://[:password@]127.0.0.1:port */
  readonly url: string;
  /** Stops the server (SIGKILL: it keeps nothing) and starts it again, empty, on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string, password: string | undefined): Promise<ChildProcess> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", ...(password ? ["--requirepass", password] : [])];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/u.test(out)) {
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", (e) => reject(new Error(`cannot start redis-server (apt-get install redis-server): ${e.message}`)));
    child.on("exit", (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.on("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

export async function startRedis(options: { password?: string } = {}): Promise<TestRedis> {
  const dir = tempDir("civitas-redis-");
  const port = await freePort();
  let child = await launch(port, dir, options.password);
  return {
    port,
    url: `redis://${options.password ? `:${options.password}@` : ""}127.0.0.1:${port}`,
    async restart() {
      await kill(child);
      child = await launch(port, dir, options.password);
    },
    stop: () => kill(child),
  };
}
