/**
 * Seeded randomness. Every random choice in civitas goes through a generator made here from an
 * explicit seed, so the same command with the same seed gives the same numbers on every machine:
 * pure-rand's xoroshiro128+, seeded with the seed itself (`seededRng`) or, for one of many
 * independent streams under a seed, with the state `streamSeed` derives from (seed, stream)
 * (`streamRng`). Binomial variates from it are in binomial.ts.
 */
import { createHash } from "node:crypto";
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from "pure-rand";

export interface Rng {
  /** A uniform integer in [from, to] (inclusive). */
  int(from: number, to: number): number;
  /** A uniform float in [0, 1). */
  float(): number;
}

function rngOf(g: RandomGenerator): Rng {
  return {
    int: (from, to) => unsafeUniformIntDistribution(from, to, g),
    // 53 random bits, as Math.random() has.
    float: () => (unsafeUniformIntDistribution(0, (1 << 26) - 1, g) * 2 ** 27 + unsafeUniformIntDistribution(0, (1 << 27) - 1, g)) / 2 ** 53,
  };
}

export function seededRng(seed: number): Rng {
  return rngOf(xoroshiro128plus(seed | 0));
}

/**
 * The xoroshiro128+ state of a random stream: four 32-bit words of SHA-256 of (seed, stream).
 * Distinct (seed, stream) pairs get unrelated streams, seed 0 included; deriving a stream as
 * `seed + index` instead makes question 1 under seed 0 replay question 0 under seed 1, and
 * `seed >>> 0 || 1` gave seed 0 and seed 1 the same stream.
 */
export function streamSeed(seed: number, stream?: string | number): number[] {
  const digest = createHash("sha256").update(JSON.stringify([seed, stream ?? null])).digest();
  return [0, 4, 8, 12].map((o) => digest.readUInt32BE(o));
}

/** The generator of one stream under a seed (see `streamSeed`), e.g. one question's under the run's seed. */
export function streamRng(seed: number, stream?: string | number): Rng {
  const state = streamSeed(seed, stream).map((w) => w | 0);
  // xoroshiro128+ must not start from all zeros (a chance of 2^-128).
  if (!state.some((w) => w !== 0)) state[0] = 1;
  return rngOf(xoroshiro128plus.fromState(state));
}
