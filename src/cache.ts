/** The one cache folder civitas downloads into: surveys under data/, models under models/. */
import { homedir } from "node:os";
import path from "node:path";

/** `$CIVITAS_CACHE_DIR`, else `$XDG_CACHE_HOME/civitas`, else `~/.cache/civitas`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.CIVITAS_CACHE_DIR;
  if (own) return path.resolve(own);
  const xdg = env.XDG_CACHE_HOME;
  if (xdg) return path.resolve(xdg, "civitas");
  return path.join(homedir(), ".cache", "civitas");
}
