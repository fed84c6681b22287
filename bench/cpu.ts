import { readdirSync, readFileSync } from 'node:fs';

// /proc/<pid>/stat counts CPU time in clock ticks; 100 per second on Linux x86-64.
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The pid of the process whose command line mentions `text` (the dev server, found by its unique db file). */
export function findPid(text: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

export type CpuShares = Record<string, number>;

/** CPU seconds the whole machine has spent busy (all cores, everything but idle and iowait). */
function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/**
 * Measures how busy each named process was over a phase, in % of one core (this machine's
 * ceiling is nproc × 100), and `others`: whatever else ran on the machine meanwhile, which
 * on a shared machine explains results that differ between runs.
 */
export function startCpuMeter(pids: Record<string, number>): () => CpuShares {
  const started = Date.now();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const machineBefore = machineBusySeconds();
  return () => {
    const wall = (Date.now() - started) / 1000;
    const shares = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, (100 * (cpuSeconds(pid) - before[name])) / wall]));
    const machine = (100 * (machineBusySeconds() - machineBefore)) / wall;
    const ours = Object.values(shares).reduce((sum, share) => sum + share, 0);
    return { ...shares, others: Math.max(0, machine - ours) };
  };
}
