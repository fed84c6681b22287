// `npm run bench`: event → email throughput and latency of journeys against a bare Temporal
// baseline, and the worker's memory with thousands of journeys waiting. See bench/README.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { loadCatalogue } from '../journeys';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { startOutbox } from '../scripts/outbox';
import { temporalCliPath } from '../scripts/temporalServers';
import { openSqliteStore } from '../store/sqlite';
import { freePort } from '../tests/support/ports';
import { WORKFLOWS_PATH } from '../worker';
import { BENCH_TEMPLATES_DIR, benchWelcome } from './benchWelcome';
import { findPid } from './cpu';
import { watchOutbox } from './measure';
import { memoryPhase, type MemoryReport } from './memoryPhase';
import { baselinePhase, clientPhase, httpPhase, steadyBaselinePhase, steadyPhase, type BenchContext, type PhaseReport } from './phases';
import { probe } from './probes';
import { printReport } from './report';
import { readSettings } from './settings';

const log = (line: string) => console.error(`[bench] ${line}`);

/** Bundles once per run; every phase's worker loads the file instead of running webpack itself. */
async function prebuild(workflowsPath: string, file: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  writeFileSync(file, code);
  return file;
}

/**
 * Free ports are picked before the server binds them, and on a shared machine another
 * process can take one in between (the server then exits at once): try fresh ports again.
 */
async function startServer(dbFile: string, attempts = 3): Promise<DevServer> {
  const cliPath = await temporalCliPath(log);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer({ cliPath, ip: '127.0.0.1', port: await freePort(), uiPort: await freePort(), dbFile, log });
    } catch (err) {
      if (attempt >= attempts) throw err;
      log(`the dev server did not start (${(err as Error).message.split('\n')[0]}); trying other ports`);
    }
  }
}

async function main() {
  const settings = readSettings();
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'journeys-bench-'));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    log('bundling workflows and starting the Temporal dev server');
    const dbFile = join(dir, 'temporal.db');
    const [baseline, journeys, server] = await Promise.all([
      prebuild(join(__dirname, 'baselineWorkflow.ts'), join(dir, 'baseline-bundle.js')),
      prebuild(WORKFLOWS_PATH, join(dir, 'journeys-bundle.js')),
      startServer(dbFile),
    ]);
    cleanups.push(() => server.stop());
    const outbox = await startOutbox();
    cleanups.push(() => outbox.close());
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const storeFile = join(dir, 'journeys.db');
    const sqlite = openSqliteStore(storeFile);
    cleanups.push(() => sqlite.close());
    const probes = probe();

    const ctx: BenchContext = {
      settings,
      temporal: new Client({ connection }),
      store: probes.timed(sqlite),
      probes,
      benchCatalogue: loadCatalogue([benchWelcome], BENCH_TEMPLATES_DIR),
      route: watchOutbox(outbox),
      worker: { address: server.address, smtpPort: outbox.port, storeFile },
      bundles: { baseline, journeys },
      serverPid: findPid(dbFile) ?? 0,
    };
    const phases: PhaseReport[] = [];
    const timed = { a: baselinePhase, b: clientPhase, c: httpPhase, 'steady-a': steadyBaselinePhase, steady: steadyPhase };
    for (const [key, run] of Object.entries(timed)) {
      if (!settings.phases.includes(key as keyof typeof timed)) continue;
      const done = await run(ctx);
      phases.push(done);
      log(`${done.name}: ${done.emails} emails, ${done.perSecond.toFixed(1)}/s, p50 ${done.p50Ms.toFixed(0)} ms, p99 ${done.p99Ms.toFixed(0)} ms`);
    }
    let memory: MemoryReport | Error | undefined;
    if (settings.phases.includes('memory')) {
      log(`starting ${settings.waiting} waiting cartAbandonment journeys`);
      // Reported, not thrown: the throughput figures above are worth printing either way.
      memory = await memoryPhase(ctx).catch((err: Error) => err);
    }
    printReport(settings, phases, memory, (performance.now() - started) / 1000);
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((err: Error) => log(`while cleaning up: ${err.message}`));
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exitCode = 1;
});
