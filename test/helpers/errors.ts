import assert from "node:assert/strict";
import { CivitasError, type ErrorKind } from "../../src/errors.js";

/** Awaits a promise that must reject with a CivitasError of the given kind, and returns it. */
export async function rejectsCivitas(p: Promise<unknown>, kind: ErrorKind): Promise<CivitasError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CivitasError, `expected a CivitasError, got ${e instanceof Error ? e.stack : String(e)}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail("expected a rejection");
}
