/** `civitas aggregate` as text for the terminal: per input, each rule's winners, axiom violations, margins, groups, clusters, Polis groups. */
import type { AggregateReport, ProfileReport } from "../../results/index.js";
import { formatTable } from "../table.js";

const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? "-" : Number.isInteger(x) ? String(x) : x.toFixed(d));

function names(p: ProfileReport, ids: readonly number[]): string {
  return ids.length === 0 ? "(none)" : ids.map((i) => `${i} ${p.alternatives[String(i)] ?? ""}`.trim()).join(", ");
}

function formatProfile(p: ProfileReport, margin: boolean): string[] {
  const out: string[] = [];
  const alts = Object.keys(p.alternatives);
  const who = p.comparisons === undefined ? `${fmt(p.voters)} voters, ${p.ballots} unique ballots` : `${fmt(p.voters)} voters (annotators), ${p.comparisons} comparisons`;
  out.push(`${alts.length} alternatives, ${who}${p.prompt ? ` · prompt: ${p.prompt}` : ""}`);
  out.push(
    formatTable(
      ["rule", "winners", "scores (by alternative)"],
      Object.entries(p.rules).map(([id, r]) => [
        id,
        r.error ? `refused: ${r.error}` : names(p, r.winners),
        r.scores ? Object.entries(r.scores).map(([a, s]) => `${a}: ${fmt(s)}`).join("  ") : "",
      ]),
      ["l", "l", "l"],
    ),
  );
  if (p.axioms) {
    const violations = Object.entries(p.axioms).flatMap(([axiom, byRule]) =>
      Object.entries(byRule)
        .filter(([, v]) => v.violated)
        .map(([rule, v]) => `  ${rule} violates ${axiom}: ${v.detail}`),
    );
    out.push(violations.length ? `axiom violations:\n${violations.join("\n")}` : "axioms: no rule violates Condorcet winner, Condorcet loser, Pareto or pairwise majority consistency");
  }
  if (margin) {
    out.push("margins (row over column):");
    out.push(formatTable(["", ...alts], alts.map((a) => [a, ...alts.map((b) => (a === b ? "" : fmt(p.margin[a]![b])))])));
  }
  if (p.groups) {
    const g = p.groups;
    out.push(`groups under ${g.rule}:`);
    out.push(
      formatTable(
        ["group", "voters", "winners", "same as pooled", "agreement (tau)"],
        g.groups.map((x) => [x.name, fmt(x.voters), names(p, x.winners), x.same_winners ? "yes" : "no", fmt(x.agreement)]),
        ["l", "r", "l", "r", "r"],
      ),
    );
    const groupNames = g.groups.map((x) => x.name);
    out.push(
      formatTable(
        ["outcome", "winners", ...groupNames.map((n) => `welfare ${n}`), "mean", "min"],
        g.outcomes.map((o) => [o.label, names(p, o.winners), ...groupNames.map((n) => fmt(o.welfare[n])), fmt(o.mean), fmt(o.min)]),
      ),
    );
    out.push(`utilitarian choice: ${names(p, g.utilitarian)} · egalitarian (max-min over groups): ${names(p, g.egalitarian)}`);
  }
  return out;
}

/** One input's aggregation as text; `margin`: print each profile's margin matrix. */
export function formatAggregate(r: AggregateReport, margin: boolean): string {
  const out: string[] = [`${r.file}${r.title ? ` · ${r.title}` : ""}`];
  for (const w of r.warnings) out.push(`warning: ${w}`);
  for (const p of r.profiles) out.push(...formatProfile(p, margin), "");
  if (r.clusters) {
    const c = r.clusters;
    out.push(`MaxMin-RLHF: ${c.k} clusters of annotators (sizes ${c.clusters.map((x) => x.size).join(", ")})`);
    if (c.selection) out.push(`  held-out log-likelihood by K: ${c.selection.map((s) => `K=${s.k}: ${fmt(s.held_out_log_likelihood, 1)}`).join(", ")}`);
    c.choices.forEach((ch, i) => {
      const p = r.profiles[i]!;
      out.push(`  ${ch.prompt ? `${ch.prompt}: ` : ""}max-min choice ${names(p, ch.maxmin)} · utilitarian ${names(p, ch.utilitarian)}`);
    });
  }
  if (r.polis) {
    const p = r.polis;
    out.push(
      `Polis opinion groups: ${p.k} groups (${p.groups.map((g) => g.size).join(", ")} participants), silhouette ${fmt(p.silhouette)}, ` +
        `${p.participants} participants and ${p.comments} comments; adjusted Rand index against the shipped groups ${fmt(p.ari)}`,
    );
    out.push("group-informed consensus:");
    const text = (t: string) => t.replace(/\s+/gu, " ").trim();
    for (const c of p.consensus.slice(0, 5)) out.push(`  ${fmt(c.score)}  #${c.comment} ${text(c.text)}`);
    out.push("most divisive:");
    for (const c of p.divisive.slice(0, 5)) out.push(`  ${fmt(c.spread)}  #${c.comment} ${text(c.text)}`);
  }
  return out.join("\n").trimEnd();
}
