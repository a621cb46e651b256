/**
 * Whether dist/ is the build of the current src/ (plain JavaScript: test/run.mjs uses it before
 * tsx is loaded; test/helpers/cli.ts uses it too).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The first source file whose build is missing or older than the source, or undefined when every
 * src/**.ts has its dist/**.js written after the source last changed (tsc writes every output on
 * each build, so a build leaves none older than its source).
 *
 * @param {string} [repo] the repository (default: this one)
 * @returns {string | undefined} the stale source, relative to the repository
 */
export function staleBuild(repo = REPO) {
  const src = path.join(repo, "src");
  /** @param {string} dir @returns {string | undefined} */
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const stale = walk(file);
        if (stale) return stale;
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        const built = path.join(repo, "dist", path.relative(src, file)).replace(/\.ts$/u, ".js");
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(file).mtimeMs) return path.relative(repo, file);
      }
    }
    return undefined;
  };
  return walk(src);
}
