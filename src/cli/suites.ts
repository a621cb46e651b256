/** `civitas suites` and `civitas suites show <suite>`: what can be evaluated, by which names. */
import { Command } from "commander";
import { formatTable } from "../report/index.js";
import { findSuite, SUITES, type Question, type Suite } from "../surveys/index.js";
import { printErr, printOut, loadSuiteFor, reportError, toJson } from "./common.js";

function describe(suite: Suite) {
  return {
    suite: suite.name,
    title: suite.title,
    location: suite.location,
    licence: suite.licence ?? findSuite(suite.name).licence ?? null,
    default_metric: suite.defaultMetric,
    reference: suite.reference,
    ...(suite.datasets ? { datasets: suite.datasets } : {}),
    populations: suite.populations.map((p) => ({ population: p.id, attribute: p.attribute, value: p.value })),
    questions: suite.questions.map((q) => ({
      id: q.id,
      text: q.text,
      options: q.options,
      ordinals: q.ordinals,
      refusal: q.options.filter((_, i) => q.refusal[i]),
      ...(q.dataset ? { dataset: q.dataset } : {}),
      ...(q.correct !== undefined ? { correct: q.options[q.correct] } : {}),
    })),
  };
}

/**
 * A question's options for the table, cut to about `width` characters: whole options only, then
 * "... +N more" saying how many are not shown and which of them are refusals or the correct
 * answer, so that a cut never hides what is scored and what is not.
 */
export function optionsCell(q: Question, width = 60): string {
  const parts = q.options.map((o, i) => {
    const marks = `${q.refusal[i] ? " [refusal]" : ""}${q.correct === i ? " [correct]" : ""}`;
    // One option longer than the cell is cut in its text, never in its marks.
    return o.length + marks.length > width ? `${o.slice(0, Math.max(10, width - marks.length - 3))}...${marks}` : `${o}${marks}`;
  });
  const whole = parts.join(" | ");
  if (whole.length <= width) return whole;
  let shown = 0;
  let len = 0;
  while (shown < parts.length && (shown === 0 || len + 3 + parts[shown]!.length <= width)) {
    len += (shown === 0 ? 0 : 3) + parts[shown]!.length;
    shown++;
  }
  const hidden = q.options.map((_, i) => i).slice(shown);
  if (hidden.length === 0) return whole;
  const refusals = hidden.filter((i) => q.refusal[i]).length;
  const correct = hidden.some((i) => q.correct === i);
  const notes = [...(refusals ? [`${refusals} [refusal]`] : []), ...(correct ? ["the [correct] one"] : [])];
  return `${parts.slice(0, shown).join(" | ")} | ... +${hidden.length} more${notes.length ? `, incl. ${notes.join(" and ")}` : ""}`;
}

export function suitesCommand(): Command {
  const cmd = new Command("suites")
    // `suites --json` and `suites show <suite> --json` each take their own --json.
    .enablePositionalOptions()
    .description("list the surveys civitas can evaluate; `suites show <suite>` lists one's questions and populations")
    .option("--json", "print as JSON")
    .action((flags: { json?: boolean }) => {
      if (flags.json) {
        printOut(`${toJson(SUITES.map((s) => ({ suite: s.name, title: s.title })))}\n`);
        return;
      }
      printOut(`${formatTable(["suite", "what it is"], SUITES.map((s) => [s.name, s.title]), ["l", "l"])}\n\n\`civitas suites show <suite>\` lists its questions and populations.\n`);
    });
  cmd
    .command("show")
    .description("list a suite's questions (id, text, options, ordinals) and populations, with the names other commands accept")
    .argument("<suite>", `one of: ${SUITES.map((s) => s.name).join(", ")}`)
    .option("--data <path>", "a local copy of the survey files (default: download them once into the cache)")
    .option("--cache-dir <dir>", "where downloaded surveys are kept")
    .option("--prompts <file>", "multicultural: the questions in other languages (docs/data.md)")
    .option("--json", "print everything as JSON")
    .action(async (name: string, flags: { data?: string; cacheDir?: string; prompts?: string; json?: boolean }) => {
      try {
        const suite = await loadSuiteFor(name, flags, (m) => printErr(`${m}\n`));
        for (const w of suite.warnings ?? []) printErr(`warning: ${w}\n`);
        const d = describe(suite);
        if (flags.json) {
          printOut(`${toJson(d)}\n`);
          return;
        }
        const out: string[] = [`${suite.title}`, `${suite.questions.length} questions · ${suite.populations.length} populations · default metric ${suite.defaultMetric} · data ${suite.location}`];
        if (d.licence) out.push(`licence: ${d.licence}`);
        out.push("");
        const byAttr = new Map<string, string[]>();
        for (const p of suite.populations) {
          const k = p.attribute ?? "";
          byAttr.set(k, [...(byAttr.get(k) ?? []), p.id]);
        }
        out.push("populations (as --populations takes them; an attribute name selects all its groups):");
        for (const [attr, ids] of byAttr) out.push(`  ${attr ? `${attr}: ` : ""}${ids.join(", ")}`);
        out.push("", "questions:");
        out.push(
          formatTable(
            ["id", "options (ordinals)", "text"],
            suite.questions.map((q) => [
              q.id,
              optionsCell(q) + (q.ordinals ? ` (${q.ordinals.join(",")})` : ""),
              q.text.length > 70 ? `${q.text.slice(0, 67)}...` : q.text,
            ]),
            ["l", "l", "l"],
          ),
        );
        printOut(`${out.join("\n")}\n`);
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
  return cmd;
}
