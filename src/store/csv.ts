/**
 * CSV cells that spreadsheets would run as formulas. CSV exports are opened in spreadsheets, which
 * treat a cell starting with = + - @ TAB or CR as a formula (`=HYPERLINK(...)` in a survey's
 * question id, an option, a prompt, a scenario's parameter): such a text cell gets a leading '
 * (OWASP, "CSV Injection"). A text cell that is a plain number ("-1", "+2.5e3") is no formula and
 * stays as it is; number columns are never passed through this.
 */

/** The SQL expression of a text column as it goes into a CSV cell. */
export function csvText(expr: string): string {
  return `CASE WHEN regexp_matches(${expr}, '^[=+\\-@\\t\\r]') AND NOT regexp_matches(${expr}, '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$') THEN '''' || ${expr} ELSE ${expr} END`;
}
