/**
 * Ctrl-C in a long command (`eval`, `simulate`): the first stops the work cleanly (what is done is
 * saved, and the same command resumes), the second quits at once (exit 130).
 */

export interface Interrupt {
  /** Aborted at the first Ctrl-C. */
  readonly signal: AbortSignal;
  /** Whether Ctrl-C was pressed. */
  readonly interrupted: boolean;
  /** Stops listening for Ctrl-C. */
  dispose(): void;
}

/** Listens for Ctrl-C until `dispose`; `log` is told, at the first, what happens now (`saving`: "finishing the answers in flight and saving"). */
export function onInterrupt(log: (message: string) => void, saving: string): Interrupt {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    log(`interrupted: ${saving} (press Ctrl-C again to quit at once)`);
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  return {
    signal: controller.signal,
    get interrupted() {
      return controller.signal.aborted;
    },
    dispose: () => void process.off("SIGINT", onSigint),
  };
}
