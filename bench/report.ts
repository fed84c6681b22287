import { availableParallelism } from 'node:os';
import type { CpuShares } from './cpu';
import type { IngestReport } from './ingestPhase';
import { median, spread } from './measure';
import type { MemoryReport, WaitingLevel, WaitingReport } from './memoryPhase';
import type { RulesReport, TemplateReport } from './microPhases';
import type { PhaseReport, RoundKey } from './phases';
import type { BenchSettings } from './settings';
import { TAIL_STAGES, type StageName } from './stages';
import type { SweepReport } from './sweepPhase';
import type { WorkerStatus } from './workerHandle';

// Targets from the performance issue; a miss is printed, never a failed process (machines differ).
export const TARGETS = {
  /** (b) and (c) emails/s as a share of (a)'s. */
  throughputVsBare: 0.95,
  /** steady p99 event → email as a multiple of the bare steady p99, and in ms on loopback. */
  steadyP99VsBare: 1.1,
  steadyP99Ms: 150,
  /** Worker RSS with this many journeys waiting. */
  memory: { journeys: 5000, rssMb: 250 },
  waiting: { journeys: 100_000, rssMb: 300 },
  ingest: { perSecond: 5000, storeP99Ms: 5 },
  sweep: { customers: 100_000, seconds: 60 },
  rulesPerCpuSecond: 1_000_000,
  rendersPerCpuSecond: 10_000,
};

/** What a run measured: a phase that threw is kept as its error, so the others still print. */
export interface BenchResults {
  phases: PhaseReport[];
  ingest?: IngestReport | Error;
  rules?: RulesReport | Error;
  templates?: TemplateReport[] | Error;
  sweep?: SweepReport | Error;
  memory?: MemoryReport | Error;
  waiting?: WaitingReport | Error;
  /** 1-minute load averages at the start and the end of the run, and the cores. */
  machine: { loadStart: number; loadEnd: number; cores: number };
  /** What the worker processes ran (compiled JS or the sources through tsx). */
  workerCode: string;
  totalSeconds: number;
}

type Verdict = 'PASS' | 'MISS' | 'n/a' | 'info';

interface TargetRow {
  target: string;
  measured: string;
  baseline: string;
  perRound: string;
  spread: string;
  /** "other" CPU over the phases the figure comes from, in % of one core (a range over rounds). */
  other: string;
  verdict: Verdict;
}

const num = (value: number | undefined, digits = 0) => (value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '—');
const big = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—');
const times = (value: number) => `${num(value, 2)}×`;
const range = (values: number[], format: (value: number) => string = (v) => num(v)) => {
  const { min, max } = spread(values);
  if (!Number.isFinite(min)) return '—';
  return format(min) === format(max) ? format(min) : `${format(min)}–${format(max)}`;
};

/** Columns before `left` are text, aligned left; the rest are figures, aligned right. */
function table(header: string[], rows: string[][], left = 1): string {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col].length)));
  const line = (cells: string[]) => cells.map((cell, col) => (col < left ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const shares = (cpu: CpuShares) => [cpu.server, cpu.worker, cpu.bench, cpu.others].map((share) => num(share)).join('/');

/** Every round's phases with their figures; ratios are to the same round's baseline phase. */
function phaseTable(phases: PhaseReport[]): string {
  const baselineOf = (p: PhaseReport) => phases.find((other) => other.key === p.baselineKey);
  return table(
    ['round', 'phase', 'emails', 'failed', 'dup/missing', 'emails/s', 'p50 ms', 'p99 ms', 'max ms', 'rate vs base', 'p99 vs base', 'CPU % srv/wkr/bench/other', 'worker RSS MB'],
    phases.map((p) => [
      String(p.round),
      p.name,
      String(p.emails),
      String(p.failed),
      `${p.duplicates}/${p.missing}`,
      num(p.perSecond, 1),
      num(p.p50Ms),
      num(p.p99Ms),
      num(p.maxMs),
      ...(['perSecond', 'p99Ms'] as const).map((field) => {
        const base = baselineOf(p);
        return base ? times(p[field] / base[field]) : '—';
      }),
      shares(p.cpu),
      num(p.workerRssMb),
    ]),
    2,
  );
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
    ['round', 'phase', 'submit call', ...stageNames, 'retried activity/failed wf task', 'worker loop delay p99/max', 'worker store ms', 'bench loop delay p99/max', 'bench store ms'],
    phases.map((p) => [
      String(p.round),
      p.name,
      pair(p.acceptP50Ms, p.acceptP99Ms),
      ...stageNames.map((stage) => pair(p.stages.stages[stage].p50, p.stages.stages[stage].p99)),
      `${p.stages.retriedActivities}/${p.stages.failedWorkflowTasks} of ${p.stages.runs}`,
      pair(p.worker.loopP99Ms, p.worker.loopMaxMs),
      store(p.worker),
      pair(p.bench.loopP99Ms, p.bench.loopMaxMs),
      store(p.bench),
    ]),
    2,
  );
}

function slowestWay(phases: PhaseReport[]): string {
  return table(
    ['round', 'phase', 'emails', 'event → email', ...TAIL_STAGES],
    phases.map((p) => {
      const tail = p.stages.tail;
      return [String(p.round), p.name, String(tail?.emails ?? 0), tail ? num(tail.totalMs) : '—', ...TAIL_STAGES.map((name) => (tail ? num(tail.stages[name]) : '—'))];
    }),
    2,
  );
}

/**
 * What the Temporal server did per email, from its counters: the same from run to run where
 * the CPU shares are not, so the difference between a phase and its baseline is what a
 * journey asks of Temporal beyond a bare workflow. The first round's operations are listed.
 */
function serverWork(phases: PhaseReport[]): string[] {
  const ops = (list: [string, number][]) => list.filter(([, perEmail]) => perEmail >= 0.05).map(([op, perEmail]) => `${op} ${num(perEmail, 2)}`).join(', ');
  const rows = table(
    ['round', 'phase', 'store calls', 'store ms', 'visibility calls', 'frontend RPCs', 'history events', 'history bytes', 'CPU ms srv/wkr/bench', 'CPU ms in all', 'machine busy %'],
    phases.map((p) => {
      const { server, worker, bench } = p.cpuMsPerEmail;
      return [
        String(p.round),
        p.name,
        num(p.server.persistence, 1),
        num(p.server.persistenceMs, 2),
        num(p.server.visibility, 1),
        num(p.server.rpcs, 1),
        num(p.stages.historyEvents, 1),
        big(p.stages.historyBytes),
        [server, worker, bench].map((ms) => num(ms, 1)).join('/'),
        num(server + worker + bench, 1),
        num(p.cpu.server + p.cpu.worker + p.cpu.bench + p.cpu.others),
      ];
    }),
    2,
  );
  const first = phases.filter((p) => p.round === 1);
  return [
    rows,
    ...first.flatMap((p) => [
      `  ${p.name}: store ${ops(p.server.byOperation.persistence)}`,
      `    visibility ${ops(p.server.byOperation.visibility)}; RPCs ${ops(p.server.byOperation.rpcs)}`,
    ]),
  ];
}

/** The phases of `group` with their same-round baseline (or the same round's `baseGroup`), in round order. */
function pairs(phases: PhaseReport[], group: RoundKey, baseGroup?: RoundKey): [PhaseReport, PhaseReport][] {
  return phases.flatMap((p) => {
    const baseKey = baseGroup ? `${baseGroup}${p.round}` : p.baselineKey;
    const base = p.group === group ? phases.find((other) => other.key === baseKey) : undefined;
    return base ? [[p, base] as [PhaseReport, PhaseReport]] : [];
  });
}

const BASELINE_NAMES: Partial<Record<RoundKey, string>> = { b: '1 worker', ai: 'bare+attrs', af: 'floor', saf: 'floor' };

/**
 * A ratio target judged on the median of the per-round ratios (each round's phase to the
 * same round's baseline); a phase that lost submissions or emails misses whatever its ratio.
 */
function ratioRow(phases: PhaseReport[], group: RoundKey, field: 'perSecond' | 'p50Ms' | 'p99Ms', target: string, ok: (ratio: number) => boolean, baseGroup?: RoundKey): TargetRow | undefined {
  const found = pairs(phases, group, baseGroup);
  if (found.length === 0) return undefined;
  const ratios = found.map(([p, base]) => p[field] / base[field]);
  const value = median(ratios);
  const lost = found.some(([p]) => p.failed > 0 || p.missing > 0);
  const unit = field === 'perSecond' ? '/s' : ' ms';
  return {
    ...roundRatios(found, ratios),
    target: lost ? `${target} (submissions failed)` : target,
    baseline: `${num(median(found.map(([, base]) => base[field])), field === 'perSecond' ? 1 : 0)}${unit} ${BASELINE_NAMES[found[0][1].group] ?? 'bare'}`,
    verdict: Number.isFinite(value) && ok(value) && !lost ? 'PASS' : 'MISS',
  };
}

/** The columns every per-round ratio row shares: the median, each round's, their spread, and the CPU used outside the bench. */
function roundRatios(found: [PhaseReport, PhaseReport][], ratios: number[]): Pick<TargetRow, 'measured' | 'perRound' | 'spread' | 'other'> {
  return {
    measured: times(median(ratios)),
    perRound: ratios.map(times).join(' '),
    spread: range(ratios, times),
    other: range(found.flatMap(([p, base]) => [p.cpu.others, base.cpu.others])),
  };
}

const cpuMsOf = (p: PhaseReport) => p.cpuMsPerEmail.server + p.cpuMsPerEmail.worker + p.cpuMsPerEmail.bench;

/**
 * The throughput ratio the phases' CPU per email allows, each round's bare CPU ms per email
 * over the phase's: with both cores busy, emails/s is the cores' time over what one email
 * costs, so where this is below the target the target is out of reach on this machine.
 */
function cpuRow(phases: PhaseReport[], group: RoundKey, target: string): TargetRow | undefined {
  const found = pairs(phases, group);
  if (found.length === 0) return undefined;
  return {
    ...roundRatios(found, found.map(([p, base]) => cpuMsOf(base) / cpuMsOf(p))),
    target,
    baseline: `${num(median(found.map(([, base]) => cpuMsOf(base))), 1)} ms bare`,
    verdict: 'info',
  };
}

/**
 * A target stated at a size (journeys waiting, customers swept) measured at another: the
 * figure only grows with the size, so a miss below it is a miss, and a pass counts only at
 * or above it.
 */
const atSize = (ok: boolean, size: number, needed: number): Verdict => (!ok ? 'MISS' : size >= needed ? 'PASS' : 'n/a');
const plain = (target: string, measured: string, verdict: Verdict, other: string, extra: Partial<TargetRow> = {}): TargetRow => ({ target, measured, baseline: '—', perRound: '—', spread: '—', other, verdict, ...extra });
const failedRow = (target: string, err: Error): TargetRow => plain(target, `failed: ${err.message.split('\n')[0].slice(0, 60)}`, 'MISS', '—');

function targetRows(settings: BenchSettings, results: BenchResults): TargetRow[] {
  const { phases } = results;
  const rows: (TargetRow | undefined)[] = [
    ratioRow(phases, 'b', 'perSecond', `(b) JourneyClient emails/s ≥ ${TARGETS.throughputVsBare}× bare`, (r) => r >= TARGETS.throughputVsBare),
    ratioRow(phases, 'c', 'perSecond', `(c) HTTP emails/s ≥ ${TARGETS.throughputVsBare}× bare`, (r) => r >= TARGETS.throughputVsBare),
    ratioRow(phases, 's', 'p99Ms', `steady ${settings.rate}/s p99 event → email ≤ ${TARGETS.steadyP99VsBare}× bare`, (r) => r <= TARGETS.steadyP99VsBare),
  ];
  // Where journeys' Temporal throughput goes: the indexing their search attributes cost a bare
  // workflow, and what journeys cost beyond it. No targets: they split the (b) ratio in two.
  const info = (row: TargetRow | undefined) => row && rows.push({ ...row, verdict: 'info' });
  info(ratioRow(phases, 'ai', 'perSecond', '(ai) bare + journey search attributes emails/s vs bare (no target)', () => true));
  info(ratioRow(phases, 'b', 'perSecond', '(b) JourneyClient emails/s vs (ai) (no target)', () => true, 'ai'));
  info(ratioRow(phases, 'af', 'perSecond', '(af) bare + what a journey email must store, emails/s vs bare: the limit of (b), (c)', () => true));
  info(ratioRow(phases, 'b', 'perSecond', '(b) JourneyClient emails/s vs (af) (no target)', () => true, 'af'));
  info(cpuRow(phases, 'b', '(b) the ratio CPU per email allows: bare ÷ JourneyClient (no target)'));
  info(cpuRow(phases, 'c', '(c) the ratio CPU per email allows: bare ÷ HTTP (no target)'));
  // The steady p50 ratio beside the p99 target: how much of the tail's ratio the journey's own work per email already takes.
  info(ratioRow(phases, 's', 'p50Ms', `steady ${settings.rate}/s p50 event → email vs bare (no target)`, () => true));
  info(ratioRow(phases, 'saf', 'p99Ms', `steady ${settings.rate}/s p99 of the floor (af) vs bare: the limit of the steady ratio`, () => true));
  info(ratioRow(phases, 's', 'p99Ms', `steady ${settings.rate}/s p99 event → email vs the floor (no target)`, () => true, 'saf'));
  const steady = phases.filter((p) => p.group === 's');
  if (steady.length > 0) {
    const p99s = steady.map((p) => p.p99Ms);
    const value = median(p99s);
    rows.push(
      plain(`steady ${settings.rate}/s p99 event → email ≤ ${TARGETS.steadyP99Ms} ms`, `${num(value)} ms`, value <= TARGETS.steadyP99Ms && steady.every((p) => p.failed === 0 && p.missing === 0) ? 'PASS' : 'MISS', range(steady.map((p) => p.cpu.others)), {
        perRound: p99s.map((v) => num(v)).join(' '),
        spread: range(p99s),
      }),
    );
  }
  const two = pairs(phases, 'w2');
  if (two.length > 0) {
    const duplicates = two.reduce((sum, [p]) => sum + p.duplicates, 0);
    const missing = two.reduce((sum, [p]) => sum + p.missing + p.failed, 0);
    const emails = two.reduce((sum, [p]) => sum + p.emails, 0);
    rows.push(
      plain('(w2) 2 workers: one email per event (outbox)', `${duplicates} dup, ${missing} missing of ${emails}`, duplicates === 0 && missing === 0 ? 'PASS' : 'MISS', range(two.flatMap(([p]) => [p.cpu.others])), {
        perRound: two.map(([p]) => `${p.duplicates}/${p.missing + p.failed}`).join(' '),
      }),
    );
    const ratio = ratioRow(phases, 'w2', 'perSecond', '(w2) 2 workers emails/s vs 1 worker (no target)', () => true);
    if (ratio) rows.push({ ...ratio, verdict: 'info' });
  }

  const { memory, waiting, ingest, sweep, rules, templates } = results;
  if (memory instanceof Error) rows.push(failedRow(`worker RSS ≤ ${TARGETS.memory.rssMb} MB with ${big(TARGETS.memory.journeys)} waiting`, memory));
  else if (memory) {
    const ok = memory.rssMb <= TARGETS.memory.rssMb && memory.running >= memory.journeys - memory.failed;
    rows.push(plain(`worker RSS ≤ ${TARGETS.memory.rssMb} MB with ${big(TARGETS.memory.journeys)} waiting`, `${num(memory.rssMb)} MB at ${big(memory.running)}`, atSize(ok, memory.running, TARGETS.memory.journeys), num(memory.cpu.others)));
  }
  if (waiting instanceof Error) rows.push(failedRow(`worker RSS ≤ ${TARGETS.waiting.rssMb} MB with ${big(TARGETS.waiting.journeys)} waiting`, waiting));
  else if (waiting && waiting.levels.length > 0) {
    const top = waiting.levels[waiting.levels.length - 1];
    const ok = top.rssMb <= TARGETS.waiting.rssMb && top.drained;
    rows.push(
      plain(`worker RSS ≤ ${TARGETS.waiting.rssMb} MB with ${big(TARGETS.waiting.journeys)} waiting (flat)`, `${num(top.rssMb)} MB at ${big(top.running)}${top.drained ? '' : ', not drained'}`, atSize(ok, top.running, TARGETS.waiting.journeys), range(waiting.levels.map((l) => l.cpu.others)), {
        baseline: `idle ${num(waiting.idleRssMb)} MB`,
        perRound: `${waiting.levels.map((l) => num(l.rssMb)).join(' → ')} MB`,
        spread: waiting.levels.length > 1 ? `≤ ${num(Math.max(...waiting.levels.slice(1).map((l) => l.mbPer1k)), 1)} MB/1k` : '—',
      }),
    );
  }
  if (ingest instanceof Error) rows.push(failedRow(`pure ingest ≥ ${big(TARGETS.ingest.perSecond)} events/s (HTTP, SQLite)`, ingest));
  else if (ingest) {
    const lost = ingest.failed > 0 || ingest.routed > 0;
    rows.push(
      plain(`pure ingest ≥ ${big(TARGETS.ingest.perSecond)} events/s (HTTP, SQLite, ${ingest.concurrency} in flight)`, `${big(ingest.perSecond)}/s`, ingest.perSecond >= TARGETS.ingest.perSecond && !lost ? 'PASS' : 'MISS', num(ingest.cpu.others)),
      plain(`pure ingest: store call p99 < ${TARGETS.ingest.storeP99Ms} ms`, `${num(ingest.store.p99Ms, 2)} ms`, ingest.store.p99Ms < TARGETS.ingest.storeP99Ms ? 'PASS' : 'MISS', num(ingest.cpu.others)),
    );
  }
  if (sweep instanceof Error) rows.push(failedRow(`segment sweep of ${big(TARGETS.sweep.customers)} customers ≤ ${TARGETS.sweep.seconds} s`, sweep));
  else if (sweep) {
    rows.push(
      plain(`segment sweep of ${big(TARGETS.sweep.customers)} customers ≤ ${TARGETS.sweep.seconds} s`, `${num(sweep.seconds, 1)} s for ${big(sweep.customers)}`, atSize(sweep.seconds <= TARGETS.sweep.seconds, sweep.customers, TARGETS.sweep.customers), num(sweep.cpu.others), {
        baseline: `≈ ${num((sweep.seconds * TARGETS.sweep.customers) / sweep.customers)} s per ${big(TARGETS.sweep.customers)}`,
      }),
    );
  }
  if (rules instanceof Error) rows.push(failedRow('rule evaluations ≥ 1M/s per core', rules));
  else if (rules) {
    rows.push(plain(`rule evaluations ≥ ${big(TARGETS.rulesPerCpuSecond)}/s per core`, `${big(rules.perCpuSecond)}/s`, rules.perCpuSecond >= TARGETS.rulesPerCpuSecond ? 'PASS' : 'MISS', num(rules.othersPct), { spread: range([rules.spread.min, rules.spread.max], big) }));
  }
  if (templates instanceof Error) rows.push(failedRow('template renders ≥ 10,000/s per core', templates));
  else if (templates) {
    for (const t of templates) {
      const target = `${t.template} renders ≥ ${big(TARGETS.rendersPerCpuSecond)}/s per core`;
      rows.push(t.error ? failedRow(target, new Error(t.error)) : plain(target, `${big(t.perCpuSecond)}/s`, t.perCpuSecond >= TARGETS.rendersPerCpuSecond ? 'PASS' : 'MISS', num(t.othersPct), { spread: range([t.spread.min, t.spread.max], big) }));
    }
  }
  return rows.filter((row): row is TargetRow => row !== undefined);
}

function ingestLines(ingest: IngestReport): string[] {
  return [
    `pure ingest: ${ingest.accepted} of ${ingest.events} page views accepted in ${num(ingest.seconds, 1)} s (${big(ingest.perSecond)}/s), ${ingest.failed} failed, ${ingest.routed} started/signalled a journey (expected 0); ${ingest.customers} customers; after ${big(ingest.warmup.events)} untimed (${big(ingest.warmup.perSecond)}/s)`,
    `  POST p50/p99/max ${num(ingest.p50Ms, 1)}/${num(ingest.p99Ms, 1)}/${num(ingest.maxMs, 1)} ms; store ${ingest.store.calls} calls (${num(ingest.store.calls / Math.max(1, ingest.accepted), 1)} per event), p50/p99/max ${num(ingest.store.p50Ms, 2)}/${num(ingest.store.p99Ms, 2)}/${num(ingest.store.maxMs, 1)} ms, ${num(ingest.store.totalMs)} ms in all`,
    `  slowest calls by p99: ${ingest.store.slowest.map((s) => `${s.call} ${num(s.p99Ms, 2)} ms (${s.calls})`).join(', ')}`,
    `  CPU % srv/api/load/other: ${[ingest.cpu.server, ingest.cpu.api, ingest.cpu.load, ingest.cpu.others].map((share) => num(share)).join('/')}`,
    ...(ingest.firstError ? [`  first error: ${ingest.firstError}`] : []),
  ];
}

function sweepLines(sweep: SweepReport): string[] {
  return [
    `segment sweep: ${big(sweep.customers)} customers (${big(sweep.events)} events, seeded in ${num(sweep.seedSeconds)} s) swept in ${num(sweep.seconds, 1)} s, ${big(sweep.customersPerSecond)} customers/s;` +
      ` ${sweep.entered} entered, ${sweep.left} left (seeded to give ${sweep.expected.entered} and ${sweep.expected.left})`,
    `  store ${big(sweep.store.calls)} calls, ${num(sweep.store.totalMs / 1000, 1)} s in all (${num((100 * sweep.store.totalMs) / 1000 / sweep.seconds)}% of the sweep), p50/p99/max ${num(sweep.store.p50Ms, 2)}/${num(sweep.store.p99Ms, 2)}/${num(sweep.store.maxMs, 1)} ms;` +
      ` slowest by p99: ${sweep.store.slowest.slice(0, 3).map((s) => `${s.call} ${num(s.p99Ms, 2)} ms`).join(', ')}`,
    `  CPU % srv/bench/other: ${[sweep.cpu.server, sweep.cpu.bench, sweep.cpu.others].map((share) => num(share)).join('/')}`,
  ];
}

function microLines(rules: RulesReport | undefined, templates: TemplateReport[] | undefined): string[] {
  const lines: string[] = [];
  if (rules) {
    lines.push(
      `rules: ${big(rules.perCpuSecond)} evaluations per CPU-second (slices ${big(rules.spread.min)}–${big(rules.spread.max)}), ${big(rules.perSecond)}/s of wall time, on a CPU ${num(rules.cpuOfWallPct)}% of the wall; facts with ${rules.events} events`,
      `  ns per evaluation: ${rules.rules.map((r) => `${r.name} ${big(r.nsPerEvaluation)}`).join('; ')}`,
    );
  }
  for (const t of templates ?? []) {
    lines.push(t.error ? `templates: ${t.template} failed: ${t.error}` : `templates: ${t.template} ${big(t.perCpuSecond)} renders per CPU-second (slices ${big(t.spread.min)}–${big(t.spread.max)}), ${big(t.perSecond)}/s of wall time, ${big(t.htmlBytes)} bytes of HTML`);
  }
  return lines;
}

function memoryLines(memory: MemoryReport): string[] {
  const { status } = memory;
  const stage = (name: StageName) => `${num(memory.stages.stages[name].p50)}/${num(memory.stages.stages[name].p99)} ms`;
  return [
    `memory phase: ${memory.journeys - memory.failed} of ${memory.journeys} cartAbandonment journeys started at ${num(memory.startedPerSecond, 1)}/s, ${memory.running} running`,
    `  worker RSS idle ${num(memory.idleRssMb)} MB → ${num(memory.rssMb)} MB (peak ${num(memory.peakRssMb)} MB; anonymous ${num(status.rssAnonMb)}, file-backed ${num(status.rssFileMb)}` +
      `${memory.afterGc ? `; after a full GC ${num(memory.afterGc.rssMb)} MB, heaps ${num(memory.afterGc.heapUsedMb)}/${num(memory.afterGc.threadHeapUsedMb)} MB` : ''});` +
      ` V8 heap used/total: main thread ${num(status.heapUsedMb)}/${num(status.heapTotalMb)} MB, workflow thread ${num(status.threadHeapUsedMb)}/${num(status.threadHeapTotalMb)} MB; external ${num(status.externalMb)} MB;` +
      ` ${status.cachedWorkflows} workflows in the worker's cache`,
    `  ${memory.drained ? 'drained: every journey had run its first workflow task' : `NOT drained after the deadline: ${memory.backlog} workflow tasks still queued`};` +
      ` start → 1st workflow task p50/p99 ${stage('start → 1st workflow task')}, 1st workflow task ${stage('1st workflow task')},` +
      ` ${memory.stages.failedWorkflowTasks} of ${memory.stages.runs} sampled runs had a workflow task time out or fail`,
    `  CPU % srv/wkr/bench/other over the phase: ${shares(memory.cpu)}`,
    idleLine(memory.idle),
    ...(memory.firstError ? [`  first error: ${memory.firstError}`] : []),
  ];
}

function waitingLines(waiting: WaitingReport): string[] {
  const slopes = waiting.levels.slice(1).map((l) => l.mbPer1k);
  const flat = slopes.length > 0 && Math.max(...slopes) < 1;
  return [
    `waiting phase: worker RSS as cartAbandonment journeys pile up on one worker (idle ${num(waiting.idleRssMb)} MB); MB per 1k = RSS growth per 1,000 more journeys since the level before (the first: since idle, warm-up included)`,
    table(
      ['waiting', 'running', 'drained', 'started/s', 'level s', 'RSS MB', 'peak MB', 'MB per 1k', 'after GC: RSS (heaps)', 'anon/file MB', 'heap main/wf MB', 'cached wf', 'CPU % srv/wkr/bench/other'],
      // The first level's growth is from the idle worker, its warm-up included: shown in parentheses, not judged.
      waiting.levels.map((l, i) => [big(l.journeys), big(l.running), l.drained ? 'yes' : `no (${l.backlog})`, num(l.startedPerSecond, 1), num(l.seconds), num(l.rssMb), num(l.peakRssMb), i === 0 ? `(${num(l.mbPer1k, 2)})` : num(l.mbPer1k, 2), l.afterGc ? `${num(l.afterGc.rssMb)} (${num(l.afterGc.heapUsedMb)}/${num(l.afterGc.threadHeapUsedMb)})` : '—', `${num(l.status.rssAnonMb)}/${num(l.status.rssFileMb)}`, `${num(l.status.heapUsedMb)}/${num(l.status.threadHeapUsedMb)}`, String(l.status.cachedWorkflows), shares(l.cpu)]),
    ),
    `  ${slopes.length === 0 ? 'one level: no slope to judge flat from linear' : flat ? 'flat: under 1 MB per 1,000 more waiting journeys past the first level' : `growing: up to ${num(Math.max(...slopes), 2)} MB per 1,000 more waiting journeys past the first level (linear would reach ${num(waiting.levels[0].rssMb + (Math.max(...slopes) * (TARGETS.waiting.journeys - waiting.levels[0].journeys)) / 1000)} MB at ${big(TARGETS.waiting.journeys)})`}`,
    ...heldLine(waiting.levels),
    idleLine(waiting.idle),
    ...(waiting.firstError ? [`  first error: ${waiting.firstError}`] : []),
  ];
}

/** With --gc-probe on: the growth of what the worker holds (RSS after a full GC) per 1,000 more journeys, garbage left out. */
function heldLine(levels: WaitingLevel[]): string[] {
  const held = levels.map((l) => l.afterGc?.rssMb);
  if (levels.length < 2 || held.some((mb) => mb === undefined)) return [];
  const slopes = levels.slice(1).map((l, i) => (((held[i + 1] as number) - (held[i] as number)) * 1000) / (l.journeys - levels[i].journeys));
  return [`  held (after a full GC): ${held.map((mb) => num(mb as number)).join(' → ')} MB, up to ${num(Math.max(...slopes), 2)} MB per 1,000 more waiting journeys past the first level`];
}

/** What the idle worker held before the first journey: its main-thread heap and the modules it loaded. */
function idleLine(idle: WorkerStatus): string {
  return (
    `  idle worker: RSS anonymous ${num(idle.rssAnonMb)} MB, file-backed ${num(idle.rssFileMb)} MB; V8 heap used/total: main thread ${num(idle.heapUsedMb)}/${num(idle.heapTotalMb)} MB, workflow thread ${num(idle.threadHeapUsedMb)}/${num(idle.threadHeapTotalMb)} MB; external ${num(idle.externalMb)} MB;` +
    ` ${big(idle.modules)} modules loaded (${idle.topPackages.map(([name, count]) => `${name} ${count}`).join(', ')})`
  );
}

export function printReport(settings: BenchSettings, results: BenchResults): void {
  const { phases, machine } = results;
  const out = [
    `\njourneys bench: ${settings.rounds} rounds (every other one in reverse) of N=${settings.n} at concurrency ${settings.concurrency} and steady ${settings.rate}/s × ${settings.duration} s; ingest ${big(settings.ingestEvents)} events, ${settings.ingestConcurrency} in flight;` +
      ` sweep ${big(settings.sweepCustomers)} customers; ${big(settings.waiting)} waiting; waiting levels ${settings.waitingLevels.map(big).join(', ')}; phases ${settings.phases.join(',')}`,
    `machine: ${machine.cores} cores, load average ${num(machine.loadStart, 2)} at the start, ${num(machine.loadEnd, 2)} at the end`,
    `workers ran ${results.workerCode}`,
    settings.server === 'per-phase' ? 'Temporal dev server: a fresh one, on an empty database, for each phase that uses one' : 'Temporal dev server: one for the whole run',
    'latency = event submitted → email arrived in the SMTP server; CPU in % of one core over the phase (2 cores = 200%; "other" = processes outside the bench)\n',
  ];
  if (phases.length > 0) {
    out.push(phaseTable(phases), '\nwhere the time went (p50/p99 ms; stages from the runs\' histories, sampled):', whereTimeWent(phases));
    out.push('\nthe slowest 1 % of each phase\'s emails, where a p99 comes from (median ms over them; the bench\'s submission and arrival beside the server\'s events):', slowestWay(phases));
    out.push(
      `\nwhat each email cost: the Temporal server's own counters (polls included, shard upkeep left out), the runs' histories, and CPU time per email of the server, the workers and the bench process; "machine busy" is all CPU over the phase (${availableParallelism()} cores = ${availableParallelism() * 100} %):`,
      ...serverWork(phases),
    );
  }
  for (const p of phases) if (p.firstError) out.push(`  round ${p.round} ${p.name}: first error: ${p.firstError}`);
  const { ingest, sweep, rules, templates, memory, waiting } = results;
  const section = <T>(name: string, value: T | Error | undefined, lines: (value: T) => string[]) => {
    if (value instanceof Error) out.push(`\n${name} phase failed: ${value.message}`);
    else if (value !== undefined) out.push('', ...lines(value));
  };
  section('rules', rules, (r) => microLines(r, undefined));
  section('templates', templates, (t) => microLines(undefined, t));
  section('ingest', ingest, ingestLines);
  section('sweep', sweep, sweepLines);
  section('memory', memory, memoryLines);
  section('waiting', waiting, waitingLines);

  const rows = targetRows(settings, results);
  if (rows.length > 0) {
    out.push(
      '\ntargets (ratios: the median of the rounds, each round\'s phase to the same round\'s baseline; "other" = CPU % of one core used outside the bench during those phases: large means a busy machine, run again):',
      table(
        ['target', 'measured', 'baseline', 'per round', 'spread', 'other CPU %', 'result'],
        rows.map((r) => [r.target, r.measured, r.baseline, r.perRound, r.spread, r.other, r.verdict]),
      ),
    );
    const count = (verdict: Verdict) => rows.filter((r) => r.verdict === verdict).length;
    const judged = count('PASS') + count('MISS');
    out.push(`\n${count('PASS')} of ${judged} targets PASS, ${count('MISS')} MISS` + (count('n/a') > 0 ? `; ${count('n/a')} not judged (measured below the target's size, and no miss there)` : '') + ` — total ${num(results.totalSeconds)} s`);
  } else {
    out.push(`\nno targets measured — total ${num(results.totalSeconds)} s`);
  }
  console.log(out.join('\n'));
}
