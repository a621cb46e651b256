/**
 * Seeded randomness. Every random choice in civitas goes through a generator made here from an
 * explicit seed, so the same command with the same seed gives the same numbers on every machine.
 */
import { unsafeUniformIntDistribution, xoroshiro128plus } from "pure-rand";

export interface Rng {
  /** A uniform integer in [from, to] (inclusive). */
  int(from: number, to: number): number;
  /** A uniform float in [0, 1). */
  float(): number;
}

export function seededRng(seed: number): Rng {
  const g = xoroshiro128plus(seed | 0);
  return {
    int: (from, to) => unsafeUniformIntDistribution(from, to, g),
    // 53 random bits, as Math.random() has.
    float: () => (unsafeUniformIntDistribution(0, (1 << 26) - 1, g) * 2 ** 27 + unsafeUniformIntDistribution(0, (1 << 27) - 1, g)) / 2 ** 53,
  };
}
