import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../app/apiKeys';
import { openConfiguredStore } from '../compose';
import type { Config } from '../config';
import { startStack, type Stack } from '../scripts/stack';
import { journeyWorkflowBundle } from '../worker';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailable } from './support/browser';
import { devStackConfig, eventually } from './support/devStack';
import { quietRuntime, requiredEnv } from './support/journeyEnv';
import { keepInSuiteOutbox } from './support/suiteOutbox';

// The product as `npm start` runs it with PAYLOAD_KEYS set: the Temporal dev server with its
// Web UI (told the API's codec endpoint), the worker and the HTTP API. What the history holds
// of the customer must be unreadable to `temporal workflow show`, and readable in the Web UI
// through the codec endpoint. The tests run in order: the first two in loopback-only mode, the
// last creates API keys, which ends that mode at once.
const dataDir = mkdtempSync(join(tmpdir(), 'journeys-encrypted-'));
const tag = randomBytes(4).toString('hex');
const customer = {
  customerId: `enc-${tag}`,
  email: `zelda.quimby.${tag}@example.com`,
  firstName: `Zeldaquimby${tag}`,
  cartId: `cart-${tag}`,
  eventId: `evt-enc-${tag}`,
  total: 987.65,
  item: `Quasar lamp ${tag}`,
};
const workflowId = `cartAbandonment:${customer.customerId}:${customer.cartId}`;
const ENCRYPTED = 'binary/encrypted';
let config: Config;
let stack: Stack | undefined;

beforeAll(async () => {
  quietRuntime();
  // The first reminder, with the send step's input and result, is in the history within a second.
  config = await devStackConfig(dataDir, { PAYLOAD_KEYS: `k-test:${randomBytes(32).toString('base64')}` });
  stack = await startStack(config, () => {}, { workflowBundle: await journeyWorkflowBundle() });
});
afterAll(async () => {
  await stack?.stop();
  if (config) keepInSuiteOutbox(config.smtp.outboxDir);
  if (!process.env.KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
});

const api = (path: string, body: unknown) => fetch(`${stack!.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** `temporal workflow show … --output json`, as an operator runs it, with none of this process's Temporal settings. */
async function workflowShow(...extra: string[]): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_') || name === 'TEMPORAL_CONFIG_FILE'));
  const { stdout } = await promisify(execFile)(
    requiredEnv('TEMPORAL_CLI_PATH'),
    ['workflow', 'show', '--workflow-id', workflowId, '--address', stack!.temporalAddress, '--namespace', 'default', '--output', 'json', ...extra],
    { env, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

/** The Web UI's page of the journey run's history. */
async function historyUrl(): Promise<string> {
  const history = JSON.parse(await workflowShow()) as { events: { workflowExecutionStartedEventAttributes?: { originalExecutionRunId?: string } }[] };
  const runId = history.events[0].workflowExecutionStartedEventAttributes?.originalExecutionRunId;
  return `${stack!.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}

/** `POST /codec/decode 200`, … for each answer of the codec endpoint the page saw. */
function codecCallsOf(page: Page): string[] {
  const calls: string[] = [];
  page.on('response', (response) => {
    if (response.url().startsWith(`${stack!.apiUrl}/codec/`)) calls.push(`${response.request().method()} ${new URL(response.url()).pathname} ${response.status()}`);
  });
  return calls;
}

const decodedSummary = `Cart abandonment for customer ${customer.customerId} (properties.cartId ${customer.cartId})`;

/** Every string in the output, and what each base64 one decodes to: a payload shown raw hides its JSON in base64. */
function readableText(output: string): string {
  const strings: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') {
      strings.push(value);
      if (/^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0) strings.push(Buffer.from(value, 'base64').toString('utf8'));
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.entries(value).forEach(([key, inner]) => (strings.push(key), walk(inner)));
    else strings.push(String(value));
  };
  walk(JSON.parse(output));
  return strings.join('\n');
}

describe('encrypted histories (PAYLOAD_KEYS)', () => {
  it('keeps the customer out of `temporal workflow show`, which reads them only through the codec endpoint', async () => {
    const { customerId, email, firstName, cartId, eventId, total, item } = customer;
    expect((await api('/v1/profiles', { customerId, email, attributes: { firstName, loyaltyTier: 'gold' } })).status).toBe(200);
    const posted = await api('/v1/events', { id: eventId, type: 'cart.updated', customerId, properties: { cartId, total, currency: 'EUR', items: [{ name: item, quantity: 1, price: total }] } });
    expect(await posted.json()).toMatchObject({ started: [workflowId] });
    // The first reminder's send step, its result in the marker of its local activity, is in the history.
    await eventually(async () => readdirSync(config.smtp.outboxDir).filter((f) => f.endsWith('.eml')).length, (n) => n >= 1, 'the first reminder');
    const shown = await eventually(() => workflowShow(), (out) => out.includes('EVENT_TYPE_MARKER_RECORDED'), 'the send step in the history');

    // The profile's email and name and the cart's total and items never enter a history (activities read them from the
    // store), so they are absent either way. What does enter it, in payloads, is the event id, the cart id (the entry key)
    // and the journey's summary: those are the test, and the decoded read below shows they are there. The workflow ID and
    // the search attributes are no payloads: they name the customer and the cart by ID, in clear.
    const readable = readableText(shown).replaceAll(workflowId, '<workflow id>');
    expect(readable).toContain(ENCRYPTED);
    for (const secret of [email, firstName, item, String(total), eventId, cartId, 'Cart abandonment for customer']) expect(readable).not.toContain(secret);

    // The same history through the codec endpoint shows what the history holds: the check above could see it.
    const decoded = readableText(await workflowShow('--codec-endpoint', `${stack!.apiUrl}/codec`)).replaceAll(workflowId, '<workflow id>');
    expect(decoded).not.toContain(ENCRYPTED);
    for (const held of [eventId, cartId, `Cart abandonment for customer ${customerId}`]) expect(decoded).toContain(held);
  }, 90_000);

  it.runIf(chromiumAvailable())('shows an operator the decoded journey in the Web UI through the codec endpoint, and only encrypted bytes when the endpoint refuses', async () => {
    const url = await historyUrl();
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      // The dev server was started with --ui-codec-endpoint: the UI decodes without any setting in the browser.
      const page = await browser.newPage();
      const codecCalls = codecCallsOf(page);
      await page.goto(url);
      await page.getByText(decodedSummary).first().waitFor({ timeout: 30_000 });
      await page.getByText('"definition"').first().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: join(dataDir, 'ui-decoded.png') });
      expect(codecCalls).toContain('POST /codec/decode 200');
      expect(await page.locator('body').innerText()).not.toContain('Codec Server could not connect');

      // The same page for a caller the endpoint refuses: a proxy forwarded the request, so it does not come straight from loopback.
      const refused = await browser.newContext();
      await refused.route(`${stack!.apiUrl}/codec/**`, (route) => route.continue({ headers: { ...route.request().headers(), 'x-forwarded-for': '203.0.113.7' } }));
      const other = await refused.newPage();
      const statuses: number[] = [];
      other.on('response', (response) => {
        if (response.url().startsWith(`${stack!.apiUrl}/codec/`)) statuses.push(response.status());
      });
      await other.goto(url);
      await other.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor({ timeout: 30_000 });
      // The input shows as the encrypted payload: its metadata in base64, `binary/encrypted`.
      await other.getByText(Buffer.from(ENCRYPTED).toString('base64')).filter({ visible: true }).first().waitFor({ timeout: 10_000 });
      await other.screenshot({ path: join(dataDir, 'ui-refused.png') });
      expect(statuses.length).toBeGreaterThan(0);
      expect(new Set(statuses)).toEqual(new Set([401]));
      const shown = await other.locator('body').innerText();
      for (const hidden of ['Cart abandonment for customer', '"definition"', customer.eventId]) expect(shown).not.toContain(hidden);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it.runIf(chromiumAvailable())('once keys exist, shows the decoded journey only in a browser that opened /codec/session with an admin key', async () => {
    const store = await openConfiguredStore(config);
    let admin: string;
    let read: string;
    try {
      // From here on the API has keys: no loopback-only mode any more.
      admin = (await createApiKey(store, { name: 'ui-operator', scope: 'admin' }, new Date())).key;
      read = (await createApiKey(store, { name: 'ui-reader', scope: 'read' }, new Date())).key;
    } finally {
      await store.close();
    }
    const url = await historyUrl();
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      // Tall enough that the UI's sticky top bar does not cover the Codec Server dialog's buttons.
      const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
      const page = await context.newPage();
      const codecCalls = codecCallsOf(page);
      const sessionCookie = async () => (await context.cookies(`${stack!.apiUrl}/codec/decode`)).find((cookie) => cookie.name === 'journeys_codec');

      // (1) No session: the endpoint refuses the UI on this machine too, and the UI shows ciphertext.
      await page.goto(url);
      await page.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor({ timeout: 30_000 });
      await page.getByText(Buffer.from(ENCRYPTED).toString('base64')).filter({ visible: true }).first().waitFor({ timeout: 10_000 });
      expect(codecCalls.length).toBeGreaterThan(0);
      expect(new Set(codecCalls)).toEqual(new Set(['POST /codec/decode 401']));
      expect(await page.locator('body').innerText()).not.toContain('Cart abandonment for customer');

      // (2) A read key is no admin key: no cookie.
      const session = await context.newPage();
      await session.goto(`${stack!.apiUrl}/codec/session`);
      await session.getByLabel('Admin API key').fill(read);
      await session.getByRole('button', { name: 'Open' }).click();
      await session.getByText('That is not an admin API key.').waitFor({ timeout: 10_000 });
      expect(await sessionCookie()).toBeUndefined();

      // (3) The admin key: an HttpOnly cookie for /codec only.
      await session.getByLabel('Admin API key').fill(admin);
      await session.getByRole('button', { name: 'Open' }).click();
      await session.getByText('Decoding for this browser for 12 hours, as key ui-operator').waitFor({ timeout: 10_000 });
      expect(await sessionCookie()).toMatchObject({ path: '/codec', httpOnly: true, sameSite: 'Strict' });

      // (4) The UI sends the cookie only when its codec setting "Include cross-origin credentials" is on, and it reads
      // that setting from the browser only when the browser's own endpoint overrides the cluster-level one, which the
      // dev server's --ui-codec-endpoint sets with credentials off (UI 2.42, getCodecIncludeCredentials): the toggle
      // alone sends no cookie. Set as an operator does, by clicking through the UI's Codec Server dialog (its icon in the
      // top bar); the dialog keeps the choice in localStorage: `overrideRemoteCodecConfiguration`, `endpoint`,
      // `includeCredentials`.
      await page.locator('[data-testid^="data-encoder-status"]').click();
      await page.getByTestId('override-accordion').click();
      await page.getByTestId('use-local-endpoint-input').click();
      // Closed again, as the UI's own tests do: left open, the choice pushes the dialog's buttons under the page.
      await page.getByRole('button', { name: 'Use my browser setting and ignore Cluster-level setting.' }).click();
      await page.locator('#data-encoder-endpoint-input').fill(`${stack!.apiUrl}/codec`);
      await page.locator('label').filter({ hasText: 'Include cross-origin credentials' }).click();
      expect(await page.locator('#pass-access-credentials').isChecked()).toBe(true);
      await page.getByTestId('confirm-data-encoder-button').click();
      codecCalls.length = 0;
      await page.reload();
      await page.getByText(decodedSummary).first().waitFor({ timeout: 30_000 });
      await page.getByText('"definition"').first().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: join(dataDir, 'ui-session-decoded.png') });
      expect(codecCalls).toContain('POST /codec/decode 200');
      expect(new Set(codecCalls)).toEqual(new Set(['POST /codec/decode 200']));
      expect(await page.locator('body').innerText()).not.toContain('Codec Server could not connect');
    } finally {
      await browser.close();
    }
  }, 120_000);
});

