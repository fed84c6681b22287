import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { Captured } from './support/captured';


const fixture = (name: string) => join(__dirname, 'fixtures', 'simulate', name);

/** `journeys simulate …` in-process: it starts its own time-skipping server, worker and SMTP sink. */
async function simulate(events: string) {
  const stdout = new Captured();
  const stderr = new Captured();
  const unused = () => Promise.reject(new Error('simulate must bring its own Temporal and store'));
  const code = await runCli(['simulate', 'cartAbandonment', '--profile', fixture('goldCustomer.json'), '--events', fixture(events)], {
    connect: unused,
    openStore: unused,
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const emailLines = (stdout: string) => stdout.split('\n').filter((line) => / email /.test(line));

describe('journeys simulate', () => {
  it('given an abandoned cart and nothing else, prints the three VIP reminders at +1h, +25h and +97h and completes', async () => {
    const { code, stdout, stderr } = await simulate('abandonedCart.jsonl');
    expect(stderr).not.toContain('error');
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('+0s     entered on cart.updated');
    expect(emailLines(stdout)).toEqual([
      '+1h     email   reminder1Vip "Your picks are reserved for you"',
      '+25h    email   reminder2Vip "A personal note about your cart"',
      '+97h    email   lastChanceVip "Last chance: 20% off, just for you"',
    ]);
    expect(stdout).toContain('wait    waitBeforeReminder2: waited 24h');
    expect(stdout).toMatch(/\n\+97h +completed {2}\[cartAbandonment:sim-gold:c1\]\n/);
    expect(stdout).toMatch(/simulated 97h in [\d.]+s of wall time\n$/);
  });

  it('given an order at +30h, prints two emails and ends with goal_reached', async () => {
    const { code, stdout } = await simulate('orderAt30h.jsonl');
    expect(code).toBe(0);
    expect(emailLines(stdout).map((line) => line.split(/ +/)[0])).toEqual(['+1h', '+25h']);
    expect(stdout).toContain('+30h    event   order.completed');
    expect(stdout).toContain('+30h    goal_reached (order.completed)');
  });

  it('exits 2 on an events file whose `at` is neither an offset nor an instant', async () => {
    const { code, stderr } = await simulate('badAt.jsonl');
    expect(code).toBe(2);
    expect(stderr).toContain('line 1: at: "tomorrow" is neither "+<duration>" (e.g. "+30h") nor an ISO-8601 instant');
  });
});
