// Durations in journey definitions are short strings ("90m", "1h", "3d", "2w") so
// a reviewer reads them at a glance; this is the one parser every layer uses.
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PATTERN = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/;

export function isDuration(text: string): boolean {
  return PATTERN.test(text.trim());
}

export function parseDuration(text: string): number {
  const match = PATTERN.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration: use a number and one of s, m, h, d, w (e.g. "24h")`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Renders milliseconds back in the largest whole unit, e.g. 90000000 → "25h". */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
