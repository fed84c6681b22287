import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../client/cli';
import { openSqliteStore } from '../store/sqlite';
import type { Store } from '../store/types';
import { Captured } from './support/captured';


const dir = mkdtempSync(join(tmpdir(), 'journeys-preview-'));
let store: Store;
beforeAll(async () => {
  store = openSqliteStore(join(dir, 'journeys.db'));
  await store.upsertProfiles([
    { customerId: 'gold', email: 'gold@example.com', attributes: { firstName: 'Gia', loyaltyTier: 'gold' } },
    { customerId: 'anon', email: 'anon@example.com', attributes: {} },
  ]);
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `journeys preview …` in-process, with the test store and no Temporal. */
async function preview(args: string[]) {
  const stdout = new Captured();
  const stderr = new Captured();
  const code = await runCli(['preview', ...args], {
    connect: () => Promise.reject(new Error('preview must not need Temporal')),
    openStore: async () => ({ store, close: async () => undefined }),
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const cart = JSON.stringify({ cartId: 'c1', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' });

describe('journeys preview (store only)', () => {
  it('shows that rule vip chose the VIP reminder for a gold customer, with its trace, subject and text', async () => {
    const { code, stdout } = await preview(['cartAbandonment', 'reminder1', '--customer', 'gold', '--event', cart]);
    expect(code).toBe(0);
    expect(stdout).toContain('template:  reminder1Vip  (chosen by vip)');
    expect(stdout).toMatch(/✓ vip: /);
    expect(stdout).toContain('subject:   Your picks are reserved for you');
    expect(stdout).toContain('preheader: As a valued customer, we kept your cart ready.');
    expect(stdout).toContain('Trail shoes');
    expect(stdout).not.toContain('<html');
  });

  it('falls back to the standard reminder and greets a customer without a first name as "there"; --html adds the HTML', async () => {
    const { code, stdout } = await preview(['cartAbandonment', 'reminder1', '--customer', 'anon', '--event', cart, '--html']);
    expect(code).toBe(0);
    expect(stdout).toContain('(chosen by fallback)');
    expect(stdout).toMatch(/✗ vip: /);
    expect(stdout).toContain('Hello there');
    expect(stdout).toMatch(/<html/i);
  });

  it('exits 2 naming the send steps for an unknown step or one that is not a send, and for a missing customer', async () => {
    const unknown = await preview(['cartAbandonment', 'reminder9', '--customer', 'gold']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: cartAbandonment has no step "reminder9": its send steps are reminder1, reminder2, lastChance');
    const wait = await preview(['cartAbandonment', 'waitBeforeReminder1', '--customer', 'gold']);
    expect(wait.code).toBe(2);
    expect(wait.stderr).toContain('is a wait step, not a send');
    const journey = await preview(['nope', 'reminder1', '--customer', 'gold']);
    expect(journey.code).toBe(2);
    expect(journey.stderr).toMatch(/unknown journey "nope": the known journeys are cartAbandonment, /);
    const nobody = await preview(['cartAbandonment', 'reminder1', '--customer', 'nobody']);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('no profile for customer "nobody"');
  });
});
