/**
 * The hashes civitas names things by: a run's id (the first 12 hex digits of the SHA-256 of its
 * configuration as JSON), and a data set's fingerprint (the SHA-256 of one line per file: its name,
 * a tab, the SHA-256 of its bytes). A change here changes every stored run's id: tests pin the
 * README command's.
 */
import { createHash } from "node:crypto";

/** SHA-256 in hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A run's id: the first 12 hex digits of the SHA-256 of its configuration (JSON text). */
export function runIdOf(configText: string): string {
  return sha256Hex(configText).slice(0, 12);
}

/** sha256 of `${name}\t${sha256(bytes)}\n` per file, in the order given. */
export function filesFingerprint(files: readonly { readonly rel: string; readonly bytes: Uint8Array }[]): string {
  const fp = createHash("sha256");
  for (const f of files) fp.update(`${f.rel}\t${sha256Hex(f.bytes)}\n`);
  return fp.digest("hex");
}
