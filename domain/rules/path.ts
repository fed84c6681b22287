/** Reads a dotted path ("properties.cartId") from a plain object; undefined when any part is missing. */
export function readPath(source: unknown, path: string): unknown {
  let value: unknown = source;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Where a predictive score lives on the profile, as a rule reads it: `scores.churn` → `profile.attributes.scores.churn`. */
export function scorePath(score: string): string {
  return `profile.attributes.scores.${score}`;
}
