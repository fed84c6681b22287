import { homedir } from 'node:os';
import path from 'node:path';

/** Where the project keeps what is slow to build (Temporal servers, workflow bundles): `$XDG_CACHE_HOME/journeys` or `~/.cache/journeys`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(base, 'journeys');
}
