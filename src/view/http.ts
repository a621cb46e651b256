/**
 * What every response of the viewer shares: its error type, the headers that keep pages
 * self-contained (no script may run, nothing loads from elsewhere), and reading query parameters.
 */
import type http from "node:http";

/** An answer other than 200, with the message shown on the error page. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * Pages have inline styles and inline SVG, nothing else: no script runs (a value that escaped
 * escaping could still not execute), no request leaves the page, forms submit only to the viewer.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

export function sendHtml(res: http.ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Query parameters, checked: a malformed value is a 400 that names the parameter. */
export class Params {
  constructor(private readonly search: URLSearchParams) {}

  /** A non-empty text value, trimmed; undefined when absent or empty. */
  text(name: string, maxLength = 200): string | undefined {
    const v = this.search.get(name)?.trim();
    if (v === undefined || v === "") return undefined;
    if (v.length > maxLength) throw new HttpError(400, `parameter ${name} is longer than ${maxLength} characters`);
    return v;
  }

  /** Every non-empty value of a repeated parameter. */
  all(name: string, maxLength = 200): string[] {
    return this.search
      .getAll(name)
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => {
        if (v.length > maxLength) throw new HttpError(400, `parameter ${name} is longer than ${maxLength} characters`);
        return v !== "";
      });
  }

  /** One of the given values. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const v = this.text(name);
    if (v === undefined) return fallback;
    if (!(choices as readonly string[]).includes(v)) throw new HttpError(400, `parameter ${name} must be one of ${choices.join(", ")} (got "${v}")`);
    return v as T;
  }

  /** An integer in [min, max]. */
  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.text(name, 20);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^\d+$/u.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new HttpError(400, `parameter ${name} must be an integer from ${min} to ${max} (got "${v}")`);
    }
    return n;
  }

  /** A calendar date, YYYY-MM-DD. */
  date(name: string): string | undefined {
    const v = this.text(name, 10);
    if (v === undefined) return undefined;
    const d = new Date(`${v}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/u.test(v) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) {
      throw new HttpError(400, `parameter ${name} must be a date as YYYY-MM-DD (got "${v}")`);
    }
    return v;
  }
}

/** Run ids are hex digests (12 characters); prefixes and ids of other origins are letters, digits, - and _. */
export const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/u;

/** A query string from parameters, leaving out empty ones. */
export function queryString(params: Readonly<Record<string, string | number | undefined | readonly string[]>>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === "") continue;
    if (Array.isArray(v)) for (const x of v as readonly string[]) s.append(k, x);
    else s.set(k, String(v));
  }
  const q = s.toString();
  return q === "" ? "" : `?${q}`;
}
