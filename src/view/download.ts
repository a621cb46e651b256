/**
 * Downloads of a run's answers, in the columns and order of `civitas export`: DuckDB writes the
 * file (`Store.exportAnswers`, COPY) into the viewer's private temporary folder under a name the
 * viewer makes up, the file is streamed back and deleted. Nothing in the request names a file.
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import type http from "node:http";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Store } from "../store/index.js";
import { RUN_ID, SECURITY_HEADERS } from "./http.js";

export const FORMATS = ["csv", "jsonl", "parquet"] as const;
export type Format = (typeof FORMATS)[number];

const CONTENT_TYPES: Record<Format, string> = {
  csv: "text/csv; charset=utf-8",
  jsonl: "application/jsonl; charset=utf-8",
  parquet: "application/vnd.apache.parquet",
};

export interface Exported {
  readonly file: string;
  readonly rows: number;
  readonly bytes: number;
}

/** Writes the run's answers into `dir` (the viewer's own temporary folder). */
export async function exportRun(store: Store, dir: string, runId: string, format: Format): Promise<Exported> {
  if (!RUN_ID.test(runId)) throw new Error(`not a run id: ${runId}`);
  const file = path.join(dir, `${runId}-${randomBytes(6).toString("hex")}.${format}`);
  try {
    const rows = await store.exportAnswers(runId, file, format);
    return { file, rows, bytes: (await stat(file)).size };
  } catch (e) {
    await rm(file, { force: true });
    throw e;
  }
}

/** Streams an exported file as an attachment and deletes it afterwards (also when the client goes away). */
export async function sendExport(req: http.IncomingMessage, res: http.ServerResponse, exported: Exported, runId: string, format: Format): Promise<void> {
  try {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": CONTENT_TYPES[format],
      "content-length": exported.bytes,
      "content-disposition": `attachment; filename="${runId}.${format}"`,
      "x-civitas-rows": String(exported.rows),
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    await pipeline(createReadStream(exported.file), res);
  } catch {
    // The client went away: nothing to answer to.
    res.destroy();
  } finally {
    await rm(exported.file, { force: true });
  }
}
