/** SubPOP's own distance, transcribed for tests (subpop/utils/survey_utils.py). */

/** The paper's ordinal_emd: sort by ordinal, drop negative ordinals, renormalise (uniform if all zero), cumulative |diff| x gap, / (max - min). */
export function ordinalEmd(list1: number[], list2: number[], ordinal: number[]): number {
  if (Math.max(...ordinal) === Math.min(...ordinal)) return Number.NaN;
  const z = ordinal.map((o, i) => [o, list1[i]!, list2[i]!] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  let nonNeg = z.findIndex(([o]) => o >= 0);
  if (nonNeg < 0) nonNeg = 0;
  const kept = z.slice(nonNeg);
  const ord = kept.map(([o]) => o);
  const norm = (xs: number[]) => {
    const s = xs.reduce((a, b) => a + b, 0);
    return s === 0 ? xs.map(() => 1 / xs.length) : xs.map((x) => x / s);
  };
  const l1 = norm(kept.map(([, a]) => a));
  const l2 = norm(kept.map(([, , b]) => b));
  let c1 = 0;
  let c2 = 0;
  let emd = 0;
  for (let i = 0; i < l1.length - 1; i++) {
    c1 += l1[i]!;
    c2 += l2[i]!;
    emd += Math.abs(c1 - c2) * (ord[i + 1]! - ord[i]!);
  }
  return emd / (Math.max(...ord) - Math.min(...ord));
}
