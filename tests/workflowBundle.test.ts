import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../config';
import { WORKFLOWS_PATH } from '../worker';
import { bundleJourneyWorkflows, cachedWorkflowBundle, SHARED_INTERPRETER_MODULES } from '../worker/bundle';
import { bundledModules, forbiddenModules, type BundleReport } from './support/bundleModules';

// Workflows run in Temporal's deterministic sandbox, bundled by webpack: whatever they import,
// however indirectly, is loaded into every journey's sandbox. This is the check that keeps
// validation (zod), rendering, mail, databases and Node built-ins out of it.
const offending = (report: BundleReport) => forbiddenModules(report).map(({ name, chain }) => `${name}, imported through ${chain.join(' → ')}`);

let interpreterModules: Promise<BundleReport> | undefined;
/** What the interpreter's bundle holds, bundled once for the tests that read it. */
const interpreterBundle = () => (interpreterModules ??= bundledModules(WORKFLOWS_PATH, PROJECT_ROOT));

describe('the workflow bundle', () => {
  it('holds no zod, liquidjs, html-to-text, nodemailer, better-sqlite3, pg or Node built-in, directly or through what it imports', async () => {
    const report = await interpreterBundle();
    expect(report.modules.map((m) => m.name)).toContain('workflows/steps.ts');
    expect(offending(report)).toEqual([]);
    expect(report.refusal).toBeUndefined();
  });

  it('names each forbidden module with the chain of imports that brought it in', async () => {
    const report = await bundledModules(join(__dirname, 'fixtures', 'leakyWorkflows', 'index.ts'), PROJECT_ROOT);
    expect(offending(report)).toEqual([
      'node:crypto, imported through tests/fixtures/leakyWorkflows/index.ts → domain/delivery/address.ts → node:crypto',
      'zod, imported through tests/fixtures/leakyWorkflows/index.ts → domain/journey/schema.ts → zod',
    ]);
  });
});

describe('the interpreter modules every journey run in a workflow thread shares', () => {
  // The SDK instantiates anew, for each run, every module a workflow imports that the bundle
  // does not preload; a preloaded one is shared by all runs, so it must hold nothing of a run.
  it('are every module of domain/ the interpreter reaches, none importing Temporal or the workflows, and the bundle preloads them', async () => {
    const withoutExtension = (name: string) => name.replace(/\.(ts|js)$/, '');
    const domain = [...new Set((await interpreterBundle()).modules.map((m) => m.name).filter((name) => name.startsWith('domain/')).map(withoutExtension))];
    expect(domain.sort(), 'every module of domain/ the workflows reach belongs in SHARED_INTERPRETER_MODULES (worker/bundle.ts)').toEqual([...SHARED_INTERPRETER_MODULES].sort());

    const importsOfARun = SHARED_INTERPRETER_MODULES.flatMap((module) => {
      const file = ['.ts', '.js'].map((ext) => join(PROJECT_ROOT, module + ext)).find((path) => existsSync(path)) ?? '';
      // Imports and re-exports of values, one line or many.
      return [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+'([^']+)'/gm)]
        .map((m) => m[1])
        .filter((from) => from.startsWith('@temporalio/') || from.includes('/workflows'))
        .map((from) => `${module} imports ${from}`);
    });
    expect(importsOfARun).toEqual([]);

    const { code } = await bundleJourneyWorkflows();
    const preloaded = /function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
    expect([...preloaded.matchAll(/"\.\/(domain\/[^"]+)\.(?:ts|js)"\)/g)].map((m) => m[1]).sort()).toEqual([...SHARED_INTERPRETER_MODULES].sort());
  });
});

describe('the prebuilt workflow bundle a worker loads', () => {
  it('is built once for the code as it is and then reused, so a worker start runs no webpack', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'journeys-bundles-'));
    try {
      const said: string[] = [];
      const first = await cachedWorkflowBundle(cache, (line) => said.push(line));
      const builtAt = statSync(first.codePath).mtimeMs;
      const again = await cachedWorkflowBundle(cache, (line) => said.push(line));
      expect(again.codePath).toBe(first.codePath);
      expect(statSync(again.codePath).mtimeMs).toBe(builtAt);
      expect(said).toEqual([`bundling the journey interpreter into ${first.codePath} (once per code change)`]);
      expect(readFileSync(first.codePath, 'utf8')).toContain('__TEMPORAL__');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
