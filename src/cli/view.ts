/** `civitas view`: the local web app over a store. */
import { Command } from "commander";
import { DEFAULT_HOST, DEFAULT_PORT, startViewer, type Viewer } from "../view/index.js";
import { printErr, printOut, intOption, reportError, STORE_HELP, storePath, usageError } from "./common.js";

export function viewCommand(): Command {
  return new Command("view")
    .description("browse the store in a web browser: runs, a run's report and answers, comparisons, downloads")
    .option("--store <file>", STORE_HELP)
    .option("--port <n>", `port to listen on; 0 picks a free one (default: ${DEFAULT_PORT})`, intOption("--port", 0))
    .option("--host <address>", `address to listen on (default: ${DEFAULT_HOST}, this machine only)`)
    .addHelpText(
      "after",
      `
The viewer opens the store read-only, and only while it serves a page, so that \`civitas eval\`
and \`civitas simulate\` can write to it between two page loads; a running run's page shows its
progress and reloads itself. It listens on 127.0.0.1: only this machine can reach it.
--host 0.0.0.0 shows every run, prompt and answer of the store to anyone who can reach this
machine, without a password.

Examples:
  civitas view
  civitas view --store runs/2026.duckdb --port 8080`,
    )
    .action(async (flags: { store?: string; port?: number; host?: string }) => {
      let viewer: Viewer;
      const file = storePath(flags.store);
      try {
        if (flags.port !== undefined && flags.port > 65535) throw usageError(`--port must be at most 65535 (got ${flags.port})`);
        viewer = await startViewer({
          file,
          ...(flags.port === undefined ? {} : { port: flags.port }),
          ...(flags.host === undefined ? {} : { host: flags.host }),
          onError: (e) => void reportError(e),
        });
      } catch (e) {
        process.exitCode = reportError(e);
        return;
      }
      if (viewer.exposed) {
        printErr(
          `warning: listening on ${flags.host} (port ${viewer.address.port}): the store ${file} is visible to the network; anyone who can reach this machine can read every run, prompt and answer in it, without a password\n`,
        );
      }
      printOut(`civitas view: ${file} (read-only) at ${viewer.url}\nCtrl-C stops it\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          viewer.close().then(resolve, (e: unknown) => {
            process.exitCode = reportError(e);
            resolve();
          });
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      printErr("stopped\n");
    });
}
