/**
 * What is at a path, before DuckDB is asked to open it: DuckDB opens any existing file it is
 * given (a CSV included) and may then keep nothing, so the store and the commands that write
 * files look first. A DuckDB database file starts with an 8-byte checksum followed by the magic
 * bytes "DUCK" (DuckDB's storage format, `MainHeader::MAGIC_BYTES`).
 */
import { open, stat } from "node:fs/promises";

export type FileKind = "missing" | "empty" | "duckdb" | "directory" | "other";

const MAGIC = Buffer.from("DUCK", "ascii");
const MAGIC_OFFSET = 8;

export async function fileKind(file: string): Promise<FileKind> {
  let info;
  try {
    info = await stat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw e;
  }
  if (info.isDirectory()) return "directory";
  if (info.size === 0) return "empty";
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(MAGIC_OFFSET + MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return bytesRead === buf.length && buf.subarray(MAGIC_OFFSET).equals(MAGIC) ? "duckdb" : "other";
  } finally {
    await fh.close();
  }
}

/** Whether the file at this path is a DuckDB database (a civitas store or another). */
export async function isDuckDBFile(file: string): Promise<boolean> {
  return (await fileKind(file)) === "duckdb";
}
