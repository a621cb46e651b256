/**
 * Credentials inside URLs, and inside any text that may hold one (a command line, an error
 * message), replaced by "***" before the text is stored, printed or served:
 *
 *   - the userinfo of a URL: `http://user:sk-1@host/v1` -> `http://***@host/v1` (the user name
 *     goes too: some servers take the key as the user name);
 *   - the value of every query (or fragment) parameter whose name looks like a credential:
 *     `?key=sk-1&model=x` -> `?key=***&model=x`. A name looks like a credential when, lower-cased
 *     and without "-", "_" and ".", it contains key, token, secret, passw, pwd, auth, sig,
 *     credential, session, cookie or jwt (key, api_key, api-key, access_token, password, auth,
 *     authorization, sig, X-Amz-Signature, X-Amz-Credential, client_secret, ...). Over-matching
 *     (author=, monkey=) costs a value in a message; under-matching costs a key.
 *
 * A URL is anything of the form `scheme://...` up to the next whitespace. What is not a URL is
 * left alone, except by `redactCommandLine`, which also hides the value of `--api-key`.
 */

const SECRET_NAME_PARTS = ["key", "token", "secret", "passw", "pwd", "auth", "sig", "credential", "session", "cookie", "jwt"];

/** Whether a query parameter of this name carries a credential (see the module comment). */
export function isSecretParamName(name: string): boolean {
  let n = name;
  try {
    n = decodeURIComponent(name);
  } catch {
    // keep it as written
  }
  n = n.toLowerCase().replace(/[-_.\s]/gu, "");
  return SECRET_NAME_PARTS.some((p) => n.includes(p)) || n === "pass";
}

const MASK = "***";

/** `a=1&key=x` -> `a=1&key=***` (the separator kept as found). */
function redactParams(params: string): string {
  return params
    .split(/([&;])/u)
    .map((part) => {
      if (part === "&" || part === ";") return part;
      const eq = part.indexOf("=");
      if (eq < 0) return part;
      return isSecretParamName(part.slice(0, eq)) ? `${part.slice(0, eq + 1)}${MASK}` : part;
    })
    .join("");
}

// scheme :// authority path ?query #fragment, up to whitespace or a quote.
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>]*)([^\s?#"'<>]*)(\?[^\s#"'<>]*)?(#[^\s"'<>]*)?/giu;

/** A comma that starts another URL (`--base-url http://a/v1,http://u:k@b/v1`): each URL is redacted on its own. */
const COMMA_BEFORE_URL = /,(?=[a-z][a-z0-9+.-]*:\/\/)/iu;

/** The text with the credentials of every URL in it replaced by "***". */
export function redactUrls(text: string): string {
  if (COMMA_BEFORE_URL.test(text)) return text.split(COMMA_BEFORE_URL).map(redactUrls).join(",");
  return text.replace(URL_IN_TEXT, (_m, scheme: string, authority: string, rest: string, query: string | undefined, fragment: string | undefined) => {
    const at = authority.lastIndexOf("@");
    const host = at >= 0 ? `${MASK}@${authority.slice(at + 1)}` : authority;
    return `${scheme}${host}${rest}${query === undefined ? "" : `?${redactParams(query.slice(1))}`}${fragment === undefined ? "" : `#${redactParams(fragment.slice(1))}`}`;
  });
}

/**
 * The credentials of a URL, for a scrubber that must also catch them where they appear without
 * their URL (a server or a library repeating a value): the password, the user name, and the
 * values of parameters named like credentials, raw and percent-decoded; values shorter than 4
 * characters are left out (they would scrub ordinary words).
 */
export function urlSecrets(url: URL): string[] {
  const out = new Set<string>();
  const add = (v: string) => {
    for (const s of [v, safeDecode(v)]) if (s.length >= 4) out.add(s);
  };
  add(url.password);
  add(url.username);
  for (const part of [url.search.slice(1), url.hash.slice(1)]) {
    for (const p of part.split(/[&;]/u)) {
      const eq = p.indexOf("=");
      if (eq > 0 && isSecretParamName(p.slice(0, eq))) add(p.slice(eq + 1));
    }
  }
  return [...out];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/gu, " "));
  } catch {
    return s;
  }
}

/**
 * A command line as stored or shown: URL credentials and the value of `--api-key` replaced by
 * "***". Applied when a command is stored, and again whenever a stored one is shown (stores
 * written by earlier versions may hold URL credentials).
 */
export function redactCommandLine(command: string): string {
  return redactUrls(command).replace(/(--api-key(?:=|\s+))("(?:[^"\\]|\\.)*"|\S+)/gu, (m, flag: string, value: string) => (value === MASK ? m : `${flag}${MASK}`));
}
