import type { MemoryReport } from './memoryPhase';
import type { PhaseReport } from './phases';
import type { BenchSettings } from './settings';
import type { StageName } from './stages';

// Targets from the product brief; a miss is printed, never a failed process (machines differ).
export const TARGETS = { steadyP99Ms: 250, workerRssMb: 300 };

const num = (value: number | undefined, digits = 0) => (value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '—');
const ratio = (value: number, base: number | undefined) => (base === undefined ? '—' : `${num(value / base, 2)}×`);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col].length)));
  const line = (cells: string[]) => cells.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Each journey phase is a ratio to the bare-Temporal phase under the same load: (b), (c) to (a); steady to steady bare. */
function phaseTable(phases: PhaseReport[]): string {
  return table(
    ['phase', 'emails', 'failed', 'emails/s', 'p50 ms', 'p99 ms', 'max ms', 'rate vs bare', 'p50 vs bare', 'p99 vs bare', 'CPU % srv/wkr/bench/other', 'worker RSS MB'],
    phases.map((p) => [
      p.name,
      String(p.emails),
      String(p.failed),
      num(p.perSecond, 1),
      num(p.p50Ms),
      num(p.p99Ms),
      num(p.maxMs),
      ...(['perSecond', 'p50Ms', 'p99Ms'] as const).map((field) => ratio(p[field], baselineOf(p)?.[field])),
      [p.cpu.server, p.cpu.worker, p.cpu.bench, p.cpu.others].map((share) => num(share)).join('/'),
      num(p.workerRssMb),
    ]),
  );

  function baselineOf(p: PhaseReport) {
    return phases.find((other) => other.key === p.baselineKey);
  }
}

/**
 * Evidence for bottlenecks, all as p50/p99 ms unless noted: how long the submit call took,
 * the server-side stages from the runs' histories, a blocked event loop and time in store
 * calls in the worker and in the bench process (which runs JourneyClient, HTTP and SMTP).
 */
function whereTimeWent(phases: PhaseReport[]): string {
  const pair = (a: number, b: number) => `${num(a)}/${num(b)}`;
  const store = (p: PhaseReport['worker']) => (p.storeCalls === 0 ? '—' : `${num(p.storeMs)} in ${p.storeCalls}, max ${num(p.storeMaxMs)} ${p.storeMaxCall}`);
  const stageNames = phases.length > 0 ? (Object.keys(phases[0].stages.stages) as StageName[]) : [];
  return table(
    ['phase', 'submit call', ...stageNames, 'retried activity/failed wf task', 'worker loop delay p99/max', 'worker store ms', 'bench loop delay p99/max', 'bench store ms'],
    phases.map((p) => [
      p.name,
      pair(p.acceptP50Ms, p.acceptP99Ms),
      ...stageNames.map((stage) => pair(p.stages.stages[stage].p50, p.stages.stages[stage].p99)),
      `${p.stages.retriedActivities}/${p.stages.failedWorkflowTasks} of ${p.stages.runs}`,
      pair(p.worker.loopP99Ms, p.worker.loopMaxMs),
      store(p.worker),
      pair(p.bench.loopP99Ms, p.bench.loopMaxMs),
      store(p.bench),
    ]),
  );
}

function targetRows(settings: BenchSettings, steady: PhaseReport | undefined, memory: MemoryReport | undefined): string[][] {
  const rows: string[][] = [];
  if (steady) {
    const ok = steady.p99Ms <= TARGETS.steadyP99Ms && steady.failed === 0;
    rows.push([`p99 event → email at a steady ${settings.rate}/s`, `${num(steady.p99Ms)} ms`, `≤ ${TARGETS.steadyP99Ms} ms`, verdict(ok)]);
  }
  if (memory) {
    const ok = memory.rssMb <= TARGETS.workerRssMb && memory.running >= memory.journeys;
    rows.push([`worker RSS with ${memory.running} journeys waiting`, `${num(memory.rssMb)} MB`, `≤ ${TARGETS.workerRssMb} MB`, verdict(ok)]);
  }
  return rows;
}

function memoryLines(memory: MemoryReport): string[] {
  const { status } = memory;
  const stage = (name: StageName) => `${num(memory.stages.stages[name].p50)}/${num(memory.stages.stages[name].p99)} ms`;
  return [
    `memory phase: ${memory.journeys - memory.failed} of ${memory.journeys} cartAbandonment journeys started at ${num(memory.startedPerSecond, 1)}/s, ${memory.running} running`,
    `  worker RSS idle ${num(memory.idleRssMb)} MB → ${num(memory.rssMb)} MB (peak ${num(memory.peakRssMb)} MB);` +
      ` main-thread V8 heap ${num(status.heapUsedMb)} of ${num(status.heapTotalMb)} MB (workflows run in a worker thread, not counted), external ${num(status.externalMb)} MB;` +
      ` ${status.cachedWorkflows} workflows in the worker's cache`,
    `  ${memory.drained ? 'drained: every journey had run its first workflow task' : `NOT drained after the deadline: ${memory.backlog} workflow tasks still queued`};` +
      ` start → 1st workflow task p50/p99 ${stage('start → 1st workflow task')}, 1st workflow task ${stage('1st workflow task')},` +
      ` ${memory.stages.failedWorkflowTasks} of ${memory.stages.runs} sampled runs had a workflow task time out or fail`,
    `  CPU % srv/wkr/bench/other over the phase: ${[memory.cpu.server, memory.cpu.worker, memory.cpu.bench, memory.cpu.others].map((share) => num(share)).join('/')}`,
    ...(memory.firstError ? [`  first error: ${memory.firstError}`] : []),
  ];
}

export function printReport(settings: BenchSettings, phases: PhaseReport[], memory: MemoryReport | Error | undefined, totalSeconds: number): void {
  const out = [
    `\njourneys bench: N=${settings.n}, concurrency ${settings.concurrency}, steady ${settings.rate}/s × ${settings.duration} s, ${settings.waiting} waiting journeys`,
    'latency = event submitted → email arrived in the SMTP server; CPU in % of one core over the phase (2 cores = 200%; "other" = processes outside the bench)\n',
  ];
  if (phases.length > 0) out.push(phaseTable(phases), '\nwhere the time went (p50/p99 ms; stages from the runs\' histories, sampled):', whereTimeWent(phases));
  for (const p of phases) if (p.firstError) out.push(`  ${p.name}: first error: ${p.firstError}`);
  const measured = memory instanceof Error ? undefined : memory;
  const targets = targetRows(settings, phases.find((p) => p.key === 's'), measured);
  if (targets.length > 0) out.push('\n' + table(['target', 'measured', 'target', 'result'], targets));
  if (measured) out.push('', ...memoryLines(measured));
  if (memory instanceof Error) out.push(`\nmemory phase failed: ${memory.message}`);
  out.push(`\ntotal ${num(totalSeconds)} s`);
  console.log(out.join('\n'));
}
