/** A small deterministic generator (xorshift32), so a failing randomized test names a seed that reproduces it. */
export function random(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)];
  return { next, pick, chance: (p: number) => next() < p };
}

export type Random = ReturnType<typeof random>;
