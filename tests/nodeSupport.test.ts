import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { satisfies } from 'semver';
import { describe, expect, it } from 'vitest';

// journeys supports Node 20 and later (`engines` in package.json). A locked package that asks
// for a newer Node breaks `npm ci` for users with engine-strict on, and may use what Node 20
// lacks. The oldest 20 the toolchain takes is 20.19 (vite, eslint); Temporal's SDK asks 20.3.
const OLDEST_NODE_20 = '20.19.0';

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

describe('the locked dependencies', () => {
  it(`all run on Node ${OLDEST_NODE_20}`, () => {
    const lock = JSON.parse(readFileSync(join(__dirname, '..', 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, locked]) => {
        const range = Array.isArray(locked.engines) ? undefined : locked.engines?.node;
        return range && !satisfies(OLDEST_NODE_20, range) ? [`${path.replace(/^.*node_modules\//, '')}@${locked.version} (node ${range})`] : [];
      });
    expect(refusing).toEqual([]);
  });
});
