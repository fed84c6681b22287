import { performance } from 'node:perf_hooks';
import type { Outbox } from '../scripts/outbox';

export interface PhaseResult {
  name: string;
  emails: number;
  failed: number;
  /** From the first submission to the last email's arrival. */
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Submitted → the call returned (ingest resolved, HTTP 202, workflow start acknowledged). */
  acceptP50Ms: number;
  acceptP99Ms: number;
  /** Recipients that got more than one email, and accepted submissions whose email never came (exactly-once: both 0). */
  duplicates: number;
  missing: number;
  firstError?: string;
}

/** When an event was submitted and its email arrived, in ms since the epoch. */
export interface EmailTimes {
  recipient: string;
  submittedAt: number;
  arrivedAt: number;
}

const latencyOf = (email: EmailTimes) => email.arrivedAt - email.submittedAt;

/**
 * Times "event submitted → email arrived in the SMTP server" per recipient address: each
 * event's customer has a unique address, so an arrival is matched without parsing the mail.
 */
export class Phase {
  /** Submission time by recipient; `pending` keeps those whose email has not arrived yet. */
  private readonly submittedAt = new Map<string, number>();
  private readonly pending = new Map<string, number>();
  private readonly acceptLatencies: number[] = [];
  /** Emails per submitted recipient, counted for as long as the phase is routed here (duplicates included). */
  private readonly arrivals = new Map<string, number>();
  private firstSubmit = Infinity;
  private lastArrival = 0;
  private failed = 0;
  private firstError?: string;
  private onArrival?: () => void;
  /** Who waits for a recipient's email (the closed loop on emails). */
  private readonly awaited = new Map<string, () => void>();
  /** Submission and first arrival of each recipient's email, in ms since the epoch, to set beside the server's event times. */
  private readonly times = new Map<string, EmailTimes>();

  constructor(readonly name: string) {}

  submitted(recipient: string): void {
    const now = performance.now();
    this.firstSubmit = Math.min(this.firstSubmit, now);
    this.pending.set(recipient, now);
    this.submittedAt.set(recipient, now);
  }

  accepted(recipient: string): void {
    const submittedAt = this.submittedAt.get(recipient);
    if (submittedAt !== undefined) this.acceptLatencies.push(performance.now() - submittedAt);
  }

  /** Resolves when the recipient's email arrives, or at once when none is pending (arrived, or refused). */
  arrival(recipient: string): Promise<void> {
    if (!this.pending.has(recipient)) return Promise.resolve();
    return new Promise((resolve) => this.awaited.set(recipient, resolve));
  }

  /** The submission was refused: no email is expected for it. */
  failedToSubmit(recipient: string, err: unknown): void {
    this.pending.delete(recipient);
    this.settle(recipient);
    this.failed++;
    this.firstError ??= err instanceof Error ? err.message : String(err);
  }

  arrived(recipient: string, at: number): void {
    if (this.submittedAt.has(recipient)) this.arrivals.set(recipient, (this.arrivals.get(recipient) ?? 0) + 1);
    const submittedAt = this.pending.get(recipient);
    if (submittedAt === undefined) return;
    this.pending.delete(recipient);
    this.times.set(recipient, { recipient, submittedAt: performance.timeOrigin + submittedAt, arrivedAt: performance.timeOrigin + at });
    this.lastArrival = Math.max(this.lastArrival, at);
    this.settle(recipient);
    this.onArrival?.();
  }

  private settle(recipient: string): void {
    this.awaited.get(recipient)?.();
    this.awaited.delete(recipient);
  }

  /** Resolves once every submitted event's email has arrived; fails after `timeoutMs` without progress. */
  async allArrived(timeoutMs = 60_000): Promise<void> {
    while (this.pending.size > 0) {
      const progressed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        this.onArrival = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (!progressed) throw new Error(`${this.name}: ${this.pending.size} emails did not arrive (none for ${timeoutMs / 1000} s)`);
    }
    this.onArrival = undefined;
  }

  /** The slowest `percent` % of the emails (at least one), slowest first. */
  slowest(percent: number): EmailTimes[] {
    const all = [...this.times.values()].sort((a, b) => latencyOf(b) - latencyOf(a));
    return all.slice(0, Math.max(1, Math.ceil((all.length * percent) / 100)));
  }

  result(): PhaseResult {
    const sorted = [...this.times.values()].map(latencyOf).sort((a, b) => a - b);
    const accepts = [...this.acceptLatencies].sort((a, b) => a - b);
    const seconds = (this.lastArrival - this.firstSubmit) / 1000;
    const duplicates = [...this.arrivals.values()].filter((count) => count > 1).length;
    return {
      name: this.name,
      emails: sorted.length,
      failed: this.failed,
      seconds,
      perSecond: sorted.length / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted[sorted.length - 1] ?? NaN,
      acceptP50Ms: percentile(accepts, 50),
      acceptP99Ms: percentile(accepts, 99),
      duplicates,
      missing: this.pending.size,
      firstError: this.firstError,
    };
  }
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The median of some values (the mean of the middle two for an even count), NaN for none. */
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The smallest and largest of some values: the spread a median is read with. */
export function spread(values: number[]): { min: number; max: number } {
  const finite = values.filter(Number.isFinite);
  return finite.length === 0 ? { min: NaN, max: NaN } : { min: Math.min(...finite), max: Math.max(...finite) };
}

/** Routes every outbox arrival to the phase that is running (the outbox has no way to remove a listener). */
export function watchOutbox(outbox: Outbox): { current: Phase | undefined } {
  const route: { current: Phase | undefined } = { current: undefined };
  outbox.onMessage((message) => {
    const at = performance.now();
    for (const recipient of message.to) route.current?.arrived(recipient, at);
  });
  return route;
}

/** Offers all `count` submissions with at most `concurrency` in flight (a closed loop: the throughput phases). */
export async function offerAll(count: number, concurrency: number, submit: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < count) await submit(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, runner));
}

/**
 * Offers submissions at a fixed rate whatever their progress (an open loop, as real traffic
 * arrives), so slow responses show up as latency instead of slowing the offered load down.
 */
export async function offerAtRate(perSecond: number, seconds: number, submit: (i: number) => Promise<void>): Promise<void> {
  const count = Math.round(perSecond * seconds);
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(submit(i));
  }
  await Promise.all(inFlight);
}
