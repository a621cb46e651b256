/**
 * The page of an aggregation (`civitas aggregate`): per profile the winners of every rule, the
 * margin matrix as a heat map, axiom violations, each group's outcome and welfare; MaxMin-RLHF
 * clusters; Polis opinion groups as a scatter of participants coloured by group, with the
 * consensus and divisive comments (their texts escaped like every other text).
 */
import type { AggregateReport, ProfileReport } from "../../results/index.js";
import { chart, COLORS } from "../charts.js";
import { html, type Raw } from "../html.js";
import { anchor, facts, note, num, plain, section, sub, table, warning } from "./format.js";

/** "3 Bdale Garbee" */
function altName(p: ProfileReport, id: number | string): string {
  const name = p.alternatives[String(id)];
  return name ? `${id} ${name}` : String(id);
}

const names = (p: ProfileReport, ids: readonly number[]) => (ids.length === 0 ? "(none)" : ids.map((i) => altName(p, i)).join(", "));

async function marginChart(p: ProfileReport, label: string): Promise<Raw> {
  const ids = Object.keys(p.alternatives);
  const order = ids.map((id) => altName(p, id));
  const rows = ids.flatMap((a) =>
    ids
      .filter((b) => a !== b)
      .map((b) => {
        const m = p.margin[a]?.[b] ?? 0;
        return { row: altName(p, a), col: altName(p, b), margin: m, text: plain(m, 1), tip: `${altName(p, a)} over ${altName(p, b)}: margin ${plain(m, 2)}` };
      }),
  );
  const max = Math.max(1e-9, ...rows.map((r) => Math.abs(r.margin)));
  const cell = Math.max(28, Math.min(60, Math.floor(520 / Math.max(1, ids.length))));
  return chart(
    {
      data: { values: rows },
      width: { step: cell },
      height: { step: cell },
      encoding: {
        x: { field: "col", type: "nominal", sort: order, title: "against (column)", axis: { labelAngle: -40, orient: "top" } },
        y: { field: "row", type: "nominal", sort: order, title: "alternative (row)" },
      },
      layer: [
        {
          mark: { type: "rect" },
          encoding: {
            color: { field: "margin", type: "quantitative", scale: { scheme: "redblue", domain: [-max, max] }, legend: { title: "margin", orient: "right" } },
            description: { field: "tip" },
          },
        },
        ...(ids.length <= 12 ? [{ mark: { type: "text", fontSize: 10, aria: false }, encoding: { text: { field: "text" }, color: { condition: { test: `abs(datum.margin) > ${0.55 * max}`, value: "white" }, value: COLORS.ink } } }] : []),
      ],
    },
    label,
  );
}

async function welfareChart(p: ProfileReport, label: string): Promise<Raw | null> {
  const g = p.groups;
  if (!g) return null;
  const groups = g.groups.map((x) => x.name);
  const outcomeName = (o: (typeof g.outcomes)[number]) => `${o.label}: ${names(p, o.winners)}`;
  const outcomes = g.outcomes.map(outcomeName);
  const rows = g.outcomes.flatMap((o) =>
    groups.map((name) => ({ outcome: outcomeName(o), group: name, welfare: o.welfare[name] ?? 0, tip: `${o.label} (${names(p, o.winners)}): welfare of ${name} ${num(o.welfare[name])}` })),
  );
  return chart(
    {
      data: { values: rows },
      width: 440,
      height: { step: 12 },
      mark: { type: "bar" },
      encoding: {
        y: { field: "outcome", type: "nominal", sort: outcomes, title: "outcome chosen by" },
        yOffset: { field: "group", type: "nominal", sort: groups },
        x: { field: "welfare", type: "quantitative", scale: { domain: [0, 1] }, title: "group welfare (normalised)" },
        color: { field: "group", type: "nominal", sort: groups, legend: { orient: "bottom", title: "group" } },
        description: { field: "tip" },
      },
    },
    label,
  );
}

async function profileSection(p: ProfileReport, i: number, many: boolean): Promise<Raw[]> {
  const out: Raw[] = [];
  const key = many ? `-${i + 1}` : "";
  out.push(
    facts([
      ["prompt", p.prompt ?? null],
      ["alternatives", Object.keys(p.alternatives).length],
      [p.comparisons === undefined ? "voters" : "voters (annotators)", plain(p.voters)],
      ...(p.comparisons === undefined ? [["unique ballots", p.ballots] as const] : [["comparisons", p.comparisons] as const]),
    ]),
  );
  out.push(
    sub(
      "Winners per rule",
      table(
        ["rule", "winners", "scores (by alternative)"],
        Object.entries(p.rules).map(([id, r]) => [
          id,
          r.error ? html`<span class="muted">refused: ${r.error}</span>` : names(p, r.winners),
          r.scores ? Object.entries(r.scores).map(([a, s]) => `${a}: ${plain(s)}`).join("  ") : "",
        ]),
        ["l", "l", "l"],
      ),
    ),
  );
  out.push(sub("Pairwise margins", [await marginChart(p, `margins${key}`), note("Each cell: voters preferring the row's alternative to the column's, minus the reverse. Blue: the row wins.")]));
  if (p.axioms) {
    const violations = Object.entries(p.axioms).flatMap(([axiom, byRule]) =>
      Object.entries(byRule)
        .filter(([, v]) => v.violated)
        .map(([rule, v]) => [rule, axiom, v.detail] as const),
    );
    out.push(
      sub(
        "Axioms",
        violations.length
          ? table(["rule", "violates", "how"], violations, ["l", "l", "l"])
          : note("No rule violates Condorcet winner, Condorcet loser, Pareto or pairwise majority consistency."),
      ),
    );
  }
  if (p.groups) {
    const g = p.groups;
    out.push(
      sub(`Groups under ${g.rule}`, [
        table(
          ["group", "voters", "winners", "same as pooled", "agreement (tau)"],
          g.groups.map((x) => [x.name, plain(x.voters), names(p, x.winners), x.same_winners ? "yes" : "no", num(x.agreement)]),
          ["l", "r", "l", "r", "r"],
        ),
        (await welfareChart(p, `welfare${key}`)) ?? html``,
        note(`Utilitarian choice (highest mean welfare): ${names(p, g.utilitarian)} · egalitarian (highest minimum over groups): ${names(p, g.egalitarian)}.`),
      ]),
    );
  }
  return out;
}

async function polisSection(r: AggregateReport): Promise<Raw | null> {
  const p = r.polis;
  if (!p) return null;
  const groupName = (g: number) => `group ${g + 1}`;
  const sizes = new Map(p.groups.map((g) => [g.id, g.size]));
  const rows = p.points.map((x) => ({ x: x.x, y: x.y, group: groupName(x.group), tip: `participant ${x.participant}: ${groupName(x.group)} (${sizes.get(x.group) ?? "?"} participants)` }));
  const text = (t: string) => t.replace(/\s+/gu, " ").trim();
  return section(
    "Polis opinion groups",
    [
      facts([
        ["participants", p.participants],
        ["comments", p.comments],
        ["groups", `${p.k} (${p.groups.map((g) => `${groupName(g.id)}: ${g.size}`).join(", ")})`],
        ["silhouette", num(p.silhouette)],
        ["adjusted Rand index against the shipped groups", num(p.ari)],
      ]),
      await chart(
        {
          data: { values: rows },
          width: 420,
          height: 360,
          mark: { type: "point", filled: true, size: 40, opacity: 0.75 },
          encoding: {
            x: { field: "x", type: "quantitative", title: "first principal component", scale: { zero: false } },
            y: { field: "y", type: "quantitative", title: "second principal component", scale: { zero: false } },
            color: { field: "group", type: "nominal", sort: p.groups.map((g) => groupName(g.id)), legend: { orient: "bottom", title: null } },
            shape: { field: "group", type: "nominal", sort: p.groups.map((g) => groupName(g.id)), legend: null },
            description: { field: "tip" },
          },
        },
        "polis",
      ),
      note("Each point is a participant, placed by the principal components of their votes, coloured by opinion group."),
      sub("Group-informed consensus", table(["score", "comment", "text"], p.consensus.slice(0, 10).map((c) => [num(c.score), `#${c.comment}`, text(c.text)]), ["r", "r", "l"])),
      ...(p.agreed_by_all.length ? [sub("Agreed by every group", table(["comment", "text"], p.agreed_by_all.map((c) => [`#${c.comment}`, text(c.text)]), ["r", "l"]))] : []),
      sub("Most divisive", table(["spread", "comment", "text"], p.divisive.slice(0, 10).map((c) => [num(c.spread), `#${c.comment}`, text(c.text)]), ["r", "r", "l"])),
    ],
    "polis",
  );
}

/** The body of an aggregation's page. */
export async function aggregateBody(r: AggregateReport): Promise<Raw> {
  const parts: Raw[] = [];
  parts.push(facts([["file", r.file], ["input", r.input], ["title", r.title ?? null]]));
  for (const w of r.warnings) parts.push(warning(w));
  const many = r.profiles.length > 1;
  for (let i = 0; i < r.profiles.length; i++) {
    const p = r.profiles[i]!;
    const title = many ? `Profile ${i + 1}${p.prompt ? `: ${p.prompt}` : ""}` : "Rules, margins and groups";
    parts.push(section(title, await profileSection(p, i, many), anchor(`profile-${i + 1}`)));
  }
  if (r.clusters) {
    const c = r.clusters;
    parts.push(
      section("MaxMin-RLHF clusters of annotators", [
        note(`${c.k} clusters (sizes ${c.clusters.map((x) => x.size).join(", ")})`),
        ...(c.selection
          ? [table(["K", "held-out log-likelihood", "standard error"], c.selection.map((s) => [String(s.k), num(s.held_out_log_likelihood, 1), num(s.standard_error, 1)]))]
          : []),
        table(
          ["prompt", "max-min choice", "utilitarian choice"],
          c.choices.map((ch, i) => {
            const p = r.profiles[i];
            return [ch.prompt ?? "", p ? names(p, ch.maxmin) : ch.maxmin.join(", "), p ? names(p, ch.utilitarian) : ch.utilitarian.join(", ")];
          }),
          ["l", "l", "l"],
        ),
      ]),
    );
  }
  const polis = await polisSection(r);
  if (polis) parts.push(polis);
  if (r.profiles.length === 0 && !polis) parts.push(note("Nothing to aggregate."));
  return html`${parts}`;
}
