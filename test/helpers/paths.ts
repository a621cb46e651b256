/** Where the shared real data and model live: `../shared` beside the repository (as in CI). */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED = path.resolve(REPO, "../shared");
export const MODEL = path.join(SHARED, "models/stories260K.gguf");
export const OPINIONQA = path.join(SHARED, "data/opinionqa");

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix = "civitas-test-"): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
