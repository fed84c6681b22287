import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { simpleParser } from 'mailparser';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../config';
import { startStack, type Stack } from '../scripts/stack';
import { journeyWorkflowBundle } from '../worker';
import { stateQuery } from '../workflows/messages';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailable } from './support/browser';
import { devStackConfig, eventually } from './support/devStack';
import { quietRuntime } from './support/journeyEnv';
import { keepInSuiteOutbox } from './support/suiteOutbox';

// The product as `npm start` runs it, on the real Temporal dev server, with waits 14,400×
// shorter (1 h → 0.25 s, 24 h → 6 s, 72 h → 18 s) through the documented demo setting.
const dataDir = mkdtempSync(join(tmpdir(), 'journeys-stack-'));
let config: Config;
let stack: Stack | undefined;
let temporal: Client;
let connection: Connection;

const start = async () => {
  stack = await startStack(config, () => {}, { workflowBundle: await journeyWorkflowBundle() });
};

beforeAll(async () => {
  quietRuntime();
  config = await devStackConfig(dataDir);
  await start();
  connection = await Connection.connect({ address: stack!.temporalAddress });
  temporal = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  if (config) keepInSuiteOutbox(config.smtp.outboxDir);
  if (!process.env.KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
});

const api = (path: string, body?: unknown) =>
  fetch(`${stack!.apiUrl}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function outboxSteps(to: string): Promise<string[]> {
  const files = readdirSync(config.smtp.outboxDir).filter((f) => f.endsWith('.eml')).sort();
  const mails = await Promise.all(files.map((f) => simpleParser(readFileSync(join(config.smtp.outboxDir, f)))));
  return mails.filter((m) => m.to && !Array.isArray(m.to) && m.to.text === to).map((m) => String(m.headers.get('x-journey-step')));
}

describe('the product on the Temporal dev server', () => {
  it('takes an event over HTTP, shows the journey in visibility with its state, and sends each email once across a restart', async () => {
    expect((await api('/v1/profiles', { customerId: 'stack-1', email: 'stack1@example.com', attributes: { firstName: 'Sam' } })).status).toBe(200);
    const posted = await api('/v1/events', { id: 'stack-evt-1', type: 'cart.updated', customerId: 'stack-1', properties: { cartId: 'k1', items: [{ name: 'Lamp', quantity: 1, price: 30 }], total: 30 } });
    expect(posted.status).toBe(202);
    expect(await posted.json()).toMatchObject({ started: ['cartAbandonment:stack-1:k1'], duplicate: false });

    await eventually(() => outboxSteps('stack1@example.com'), (steps) => steps.length === 1, 'reminder 1');
    // Stop everything while the journey waits for reminder 2, then start again on the same data.
    await stack!.stop();
    stack = undefined;
    await start();

    const [found] = await eventually(
      async () => {
        const runs = [];
        for await (const run of temporal.workflow.list({ query: 'CustomerId = "stack-1"' })) runs.push(run);
        return runs;
      },
      (runs) => runs.length === 1,
      'the journey in visibility',
    );
    expect(found).toMatchObject({ workflowId: 'cartAbandonment:stack-1:k1', type: 'cartAbandonment' });
    const state = await temporal.workflow.getHandle(found.workflowId).query(stateQuery);
    expect(state).toMatchObject({ journeyId: 'cartAbandonment', customerId: 'stack-1', entryKey: 'k1', status: 'running' });

    const sweep = await temporal.schedule.getHandle('segment-sweep').describe();
    expect(sweep.action).toMatchObject({ type: 'startWorkflow', workflowType: 'segmentSweep' });

    const listed = (await (await api('/v1/customers/stack-1/runs')).json()) as { runs: unknown[] };
    expect(listed.runs).toEqual([expect.objectContaining({ workflowId: 'cartAbandonment:stack-1:k1', journeyId: 'cartAbandonment', status: 'running' })]);

    await eventually(() => outboxSteps('stack1@example.com'), (steps) => steps.length === 3, 'all three emails', 60_000);
    const done = await temporal.workflow.getHandle(found.workflowId).result();
    expect(done.status).toBe('completed');
    expect(await outboxSteps('stack1@example.com')).toEqual(['reminder1', 'reminder2', 'lastChance']);
  }, 120_000);

  it.runIf(chromiumAvailable())('shows an operator the journey in the Web UI, filtered by CustomerId, with its step', async () => {
    await api('/v1/events', { id: 'stack-evt-ui', type: 'cart.updated', customerId: 'stack-ui', properties: { cartId: 'u1', items: [], total: 5 } });
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const query = encodeURIComponent('CustomerId="stack-ui"');
      await page.goto(`${stack!.uiUrl}/namespaces/default/workflows?query=${query}`);
      await page.getByText('cartAbandonment:stack-ui:u1').first().waitFor({ timeout: 30_000 });
      await page.screenshot({ path: join(dataDir, 'ui-list.png') });
      const { runId } = await temporal.workflow.getHandle('cartAbandonment:stack-ui:u1').describe();
      await page.goto(`${stack!.uiUrl}/namespaces/default/workflows/${encodeURIComponent('cartAbandonment:stack-ui:u1')}/${runId}/history`);
      await page.getByText('Search Attributes', { exact: true }).first().click();
      await page.getByText('JourneyStep').first().waitFor({ timeout: 30_000 });
      await page.screenshot({ path: join(dataDir, 'ui-run.png'), fullPage: true });
      expect(await page.content()).toMatch(/waitBeforeReminder2|reminder2|waitBeforeLastChance|lastChance|done/);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
