import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import type { CustomerEvent } from '../domain/customer/types';
import { journeySchema } from '../domain/journey/schema';
import { shippedJourneys } from '../journeys';
import { demoProfiles } from '../scripts/demoProfiles';
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

describe('journeys preview for the demo customers', () => {
  beforeAll(async () => {
    await store.upsertProfiles(demoProfiles);
  });
  const sendSteps = shippedJourneys.flatMap((input) => {
    const journey = journeySchema.parse(input);
    return journey.steps.filter((step) => step.kind === 'send').map((step) => ({ journey, stepId: step.id }));
  });
  const recorded = (id: string, type: string, customerId: string, occurredAt: string, properties: Record<string, unknown>): CustomerEvent => ({ id, type, customerId, occurredAt, properties });

  it('renders every send step of every shipped journey for each demo customer, or names the entry event it lacks', async () => {
    const outcomes: string[] = [];
    for (const { journey, stepId } of sendSteps) {
      for (const { customerId } of demoProfiles) {
        const { code, stdout, stderr } = await preview([journey.id, stepId, '--customer', customerId]);
        expect(stderr).not.toMatch(/undefined variable/);
        if (code === 0) {
          expect(stdout).toMatch(/^subject: {3}\S/m);
          outcomes.push(`${journey.id}/${stepId} ${customerId}: email`);
        } else {
          expect(code).toBe(1);
          const missing = `error: ${journey.id}/${stepId} reads event.properties.`;
          expect(stderr).toContain(missing);
          expect(stderr).toContain(`: this customer has no ${journey.trigger.event} event; pass one with --event '{"`);
          outcomes.push(`${journey.id}/${stepId} ${customerId}: needs ${journey.trigger.event}`);
        }
      }
    }
    // Emails whose templates read the cart or the order need that event; the others render without one.
    expect(outcomes.filter((o) => o.endsWith(': email')).map((o) => o.split(' ')[0])).toEqual(
      ['onboarding/welcome', 'onboarding/tips', 'onboarding/highlight', 'onboarding/checkIn', 'dormancy/winBack', 'dormancy/second', 'dormancy/lastEmail'].flatMap((s) => [s, s, s]),
    );
    expect(outcomes.filter((o) => o.includes('needs')).map((o) => o.split(' ')[0])).toEqual(
      ['cartAbandonment/reminder1', 'cartAbandonment/reminder2', 'cartAbandonment/lastChance', 'orderReceipt/receipt'].flatMap((s) => [s, s, s]),
    );
  });

  it('tells a customer with no cart what to pass, and exits 1', async () => {
    const { code, stdout, stderr } = await preview(['cartAbandonment', 'lastChance', '--customer', 'c-ada']);
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toBe(`error: cartAbandonment/lastChance reads event.properties.items: this customer has no cart.updated event; pass one with --event '{"items": …}'\n`);
    const partial = await preview(['orderReceipt', 'receipt', '--customer', 'c-ada', '--event', '{"items":[]}']);
    expect(partial.code).toBe(1);
    expect(partial.stderr).toContain(`orderReceipt/receipt reads event.properties.orderId: the --event you passed lacks it; pass one with --event '{"orderId": …}'`);
  });

  it("uses the customer's latest recorded entry event, and shows the recommendations a send would", async () => {
    const older = recorded('ben-cart-1', 'cart.updated', 'c-ben', '2026-03-01T10:00:00.000Z', { cartId: 'b1', total: 60, items: [{ sku: 'boot-1', name: 'Winter boots', quantity: 1, price: 60 }] });
    const latest = recorded('ben-cart-2', 'cart.updated', 'c-ben', '2026-03-02T10:00:00.000Z', { cartId: 'b2', total: 90, items: [{ sku: 'shoe-1', name: 'Trail shoes', quantity: 1, price: 90 }] });
    const order = recorded('kim-order-1', 'order.completed', 'c-kim', '2026-03-01T12:00:00.000Z', { orderId: 'k1', items: [{ sku: 'shoe-1', name: 'Trail shoes' }, { sku: 'sock-1', name: 'Running socks' }] });
    for (const event of [latest, older, order]) await store.recordEvent(event);

    const { code, stdout } = await preview(['cartAbandonment', 'lastChance', '--customer', 'c-ben']);
    expect(code).toBe(0);
    expect(stdout).toContain('event:     cart.updated ben-cart-2 of 2026-03-02T10:00:00.000Z, the latest recorded');
    expect(stdout).toContain('subject:   Last chance: 10% off your cart');
    expect(stdout).toContain('Trail shoes  × 1  90');
    expect(stdout).not.toContain('Winter boots');
    expect(stdout).toMatch(/you might also like/i);
    expect(stdout).toContain('Running socks');

    const receipt = await preview(['orderReceipt', 'receipt', '--customer', 'c-kim']);
    expect(receipt.code).toBe(0);
    expect(receipt.stdout).toContain('subject:   Your order k1 is confirmed');
  });
});
