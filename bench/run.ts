// `npm run bench`: event → email throughput and latency of journeys against a bare Temporal
// baseline in interleaved rounds, pure ingest, the segment sweep, rules and templates per
// core, two workers on one queue, and the worker's memory with journeys waiting. See bench/README.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { loadCatalogue } from '../journeys';
import { startDevServer, type DevServer } from '../scripts/devServer';
import { startOutbox } from '../scripts/outbox';
import { temporalCliPath } from '../scripts/temporalServers';
import { openSqliteStore } from '../store/sqlite';
import { freePort } from '../tests/support/ports';
import { BENCH_TEMPLATES_DIR, benchWelcome } from './benchWelcome';
import { prepareWorkerCode } from './build';
import { findPid } from './cpu';
import { watchOutbox } from './measure';
import { ingestPhase } from './ingestPhase';
import { memoryPhase, waitingPhase } from './memoryPhase';
import { rulesPhase, templatesPhase } from './microPhases';
import { baselinePhase, clientPhase, indexedBaselinePhase, floorBaselinePhase, httpPhase, steadyBaselinePhase, steadyFloorPhase, steadyPhase, twoWorkersPhase, type BenchContext, type PhaseReport } from './phases';
import { probe } from './probes';
import { printReport, type BenchResults } from './report';
import { BenchSettingsError, readSettings, type PhaseName } from './settings';
import { sweepPhase } from './sweepPhase';

const log = (line: string) => console.error(`[bench] ${line}`);

/**
 * Free ports are picked before the server binds them, and on a shared machine another
 * process can take one in between (the server then exits at once): try fresh ports again.
 */
const partitionsOfEveryQueue = (partitions: number) => ({ 'matching.numTaskqueueReadPartitions': partitions, 'matching.numTaskqueueWritePartitions': partitions });

async function startServer(dbFile: string, partitions: number, attempts = 3): Promise<DevServer & { metricsUrl: string; dbFile: string }> {
  const cliPath = await temporalCliPath(log);
  for (let attempt = 1; ; attempt++) {
    try {
      const metricsPort = await freePort();
      const server = await startDevServer({ cliPath, ip: '127.0.0.1', port: await freePort(), uiPort: await freePort(), metricsPort, dbFile, log, dynamicConfig: partitionsOfEveryQueue(partitions) });
      return { ...server, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, dbFile };
    } catch (err) {
      if (attempt >= attempts) throw err;
      log(`the dev server did not start (${(err as Error).message.split('\n')[0]}); trying other ports`);
    }
  }
}

/** Runs a phase that is not a ratio; a failure is reported with the results, not thrown: the other figures are worth printing. */
async function once<T>(name: string, run: () => Promise<T>): Promise<T | Error> {
  log(`${name}…`);
  const started = performance.now();
  const result = await run().catch((err: Error) => err);
  log(`${name}: ${result instanceof Error ? `failed: ${result.message}` : 'done'} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return result;
}

async function main() {
  const settings = readSettings();
  const started = performance.now();
  const loadStart = loadavg()[0];
  const selected = (phase: PhaseName) => settings.phases.includes(phase);
  const dir = mkdtempSync(join(tmpdir(), 'journeys-bench-'));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    // Built once per run: every phase's workers load the same files instead of running webpack themselves.
    log(`${settings.workerCode === 'compiled' ? 'compiling the working tree, bundling workflows' : 'bundling workflows'} and starting the Temporal dev server`);
    let servers = 0;
    const nextDbFile = () => join(dir, `temporal-${++servers}.db`);
    const serverStarted = startServer(nextDbFile(), settings.taskQueuePartitions);
    serverStarted.catch(() => {}); // awaited below; a failure is thrown there, not reported as unhandled meanwhile
    const code = await prepareWorkerCode(settings.workerCode, settings.workerNodeFlags, dir, log).catch(async (err: Error) => {
      // A failed build must not leave the dev server running.
      await serverStarted.then((server) => server.stop(), () => {});
      throw err;
    });
    let server = await serverStarted;
    log(`workers run ${code.worker.describe}`);
    let connection = await Connection.connect({ address: server.address });
    cleanups.push(async () => {
      await connection.close();
      await server.stop();
    });
    const outbox = await startOutbox();
    cleanups.push(() => outbox.close());
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
      worker: { address: server.address, smtpPort: outbox.port, storeFile, code: code.worker },
      bundles: code.bundles,
      serverPid: findPid(server.dbFile) ?? 0,
      serverMetricsUrl: server.metricsUrl,
      dir,
      log,
    };
    /**
     * A fresh dev server for each phase that uses one (--server per-phase): the server costs more
     * per email as its database grows over a run, and that moved every ratio. One server for the
     * run read the floor (af) at 0.69× to 1.09× bare over 16 rounds; a fresh one per phase, 0.85×
     * to 0.97× over 8 (see README.md).
     */
    let serverUsed = false;
    const serverForPhase = async () => {
      if (serverUsed && settings.server === 'per-phase') await renewServer();
      serverUsed = true;
    };
    const renewServer = async () => {
      await connection.close();
      await server.stop();
      rmSync(server.dbFile, { force: true });
      server = await startServer(nextDbFile(), settings.taskQueuePartitions);
      connection = await Connection.connect({ address: server.address });
      Object.assign(ctx, { temporal: new Client({ connection }), serverPid: findPid(server.dbFile) ?? 0, serverMetricsUrl: server.metricsUrl });
      ctx.worker.address = server.address;
    };
    const results: Omit<BenchResults, 'machine' | 'workerCode' | 'totalSeconds'> = { phases: [] };

    // CPU alone first, while the dev server is idle.
    if (selected('rules')) results.rules = await once('rules', () => rulesPhase(settings));
    if (selected('templates')) results.templates = await once('templates', () => templatesPhase(settings));

    // The ratio phases in interleaved rounds, so a busy spell on the machine hits a phase and
    // its baseline alike: bare, journeys, HTTP, two workers, steady bare, steady, then again.
    // Two workers are compared with (b), so (b) runs whenever they do.
    //
    // Even rounds run them in the reverse order. The dev server costs more per email as a run
    // goes on (its SQLite file and caches grow: bare's server CPU per email read 18, 28 and 30 ms
    // in a run's three rounds), so in one fixed order every phase paid for the ones before it.
    // With (a) first, (b) read 0.83× bare and the floor 0.87×; with the order reversed, in the
    // same state of the code, 0.87× and 0.98×, and (b) first on a fresh server used less server
    // CPU per email than (a) after it (18.2 against 21.3 ms).
    const round = [
      { run: baselinePhase, when: selected('a') || selected('ai') || selected('af') || selected('b') || selected('c') },
      { run: indexedBaselinePhase, when: selected('ai') },
      { run: floorBaselinePhase, when: selected('af') },
      { run: clientPhase, when: selected('b') || selected('workers2') },
      { run: httpPhase, when: selected('c') },
      { run: twoWorkersPhase, when: selected('workers2') },
      { run: steadyBaselinePhase, when: selected('steady-a') || selected('steady-af') || selected('steady') },
      { run: steadyFloorPhase, when: selected('steady-af') },
      { run: steadyPhase, when: selected('steady') },
    ].filter((phase) => phase.when);
    for (let r = 1; round.length > 0 && r <= settings.rounds; r++) {
      for (const { run } of r % 2 === 1 ? round : [...round].reverse()) {
        await serverForPhase();
        const done: PhaseReport = await run(ctx, r);
        results.phases.push(done);
        log(`round ${r} ${done.name}: ${done.emails} emails, ${done.perSecond.toFixed(1)}/s, p50 ${done.p50Ms.toFixed(0)} ms, p99 ${done.p99Ms.toFixed(0)} ms`);
      }
    }

    const onServer = <T>(run: () => Promise<T>) => async () => {
      await serverForPhase();
      return run();
    };
    if (selected('ingest')) results.ingest = await once('pure ingest', onServer(() => ingestPhase(ctx)));
    // These leave journeys parked on the server, so they come last, the biggest at the end.
    if (selected('sweep')) results.sweep = await once('segment sweep', onServer(() => sweepPhase(ctx)));
    if (selected('memory')) results.memory = await once(`memory (${settings.waiting} waiting)`, onServer(() => memoryPhase(ctx)));
    if (selected('waiting')) results.waiting = await once(`waiting (levels ${settings.waitingLevels.join(', ')})`, onServer(() => waitingPhase(ctx)));

    printReport(settings, { ...results, machine: { loadStart, loadEnd: loadavg()[0], cores: availableParallelism() }, workerCode: code.worker.describe, totalSeconds: (performance.now() - started) / 1000 });
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((err: Error) => log(`while cleaning up: ${err.message}`));
  }
}

main().catch((err: Error) => {
  console.error(err instanceof BenchSettingsError ? err.message : (err.stack ?? err.message));
  process.exitCode = 1;
});
