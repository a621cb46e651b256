/**
 * Errors that reach a user. Every error says what went wrong and where (file, line, field,
 * value), and, where there is one, what to do about it (`hint`). The library throws these; only
 * `cli/` prints them and chooses the exit code.
 */
export type ErrorKind =
  | "usage" // a flag or argument the user gave is wrong, a path it names that does not exist included (exit 2; the others exit 1)
  | "input" // a data file is malformed or inconsistent, or missing from a folder that exists
  | "model" // a model could not be loaded or answered badly after all retries
  | "store" // the DuckDB store could not be opened or written
  | "network"; // a download or server failed

export class CivitasError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CivitasError";
    this.kind = kind;
    this.hint = options.hint;
  }
}

export function isCivitasError(e: unknown): e is CivitasError {
  return e instanceof CivitasError;
}

/** The message of any thrown value, for wrapping foreign errors. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
