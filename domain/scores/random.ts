// A seeded source of randomness for the shop-history generator and the shuffled-label control:
// the same seed gives the same shop and the same control, on every machine.

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  below(n: number): number;
  chance(p: number): boolean;
  pick<T>(values: readonly T[]): T;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Exponential with this mean. */
  exponential(mean: number): number;
  /** Poisson with this mean (Knuth's method below 30, a rounded normal above: counts here stay small). */
  poisson(mean: number): number;
  /** Gamma with this shape and scale (Marsaglia–Tsang; shape below 1 boosted). */
  gamma(shape: number, scale: number): number;
  /** Shuffles in place (Fisher–Yates) and returns the array. */
  shuffle<T>(values: T[]): T[];
}

/** mulberry32: 32 bits of state, fast, and well spread for simulation (not for secrets). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = 1 - next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const gamma = (shape: number, scale: number): number => {
    if (shape < 1) return gamma(shape + 1, scale) * Math.pow(1 - next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = Math.pow(1 + c * x, 3);
      if (v > 0 && Math.log(1 - next()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * scale;
    }
  };
  const random: Random = {
    next,
    below: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (values) => values[Math.floor(next() * values.length)],
    normal,
    exponential: (mean) => -Math.log(1 - next()) * mean,
    poisson(mean) {
      if (mean <= 0) return 0;
      if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal()));
      const limit = Math.exp(-mean);
      let k = 0;
      for (let p = next(); p > limit; p *= next()) k++;
      return k;
    },
    gamma,
    shuffle(values) {
      for (let i = values.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [values[i], values[j]] = [values[j], values[i]];
      }
      return values;
    },
  };
  return random;
}
