import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, UsageError, type CliDeps } from '../cli';
import { remoteFromEnv } from '../cli/operator';
import { connectJourneys, JourneysHttpClient, ValidationError, type ConnectedJourneys } from '../client';
import { openConfiguredStore } from '../compose';
import { PROJECT_ROOT, type Config } from '../config';
import { startStack, type Stack } from '../scripts/stack';
import type { Store } from '../store/types';
import { journeyWorkflowBundle } from '../worker';
import { Captured } from './support/captured';
import { devStackConfig, eventually } from './support/devStack';
import { quietRuntime } from './support/journeyEnv';
import { freePort } from './support/ports';
import { keepInSuiteOutbox } from './support/suiteOutbox';

// The CLI against a deployment: a whole stack on a data folder of its own, and `journeys` run
// as an operator runs it, from bin/journeys.js in a process of its own, on another (empty) data
// folder, with JOURNEYS_URL and JOURNEYS_API_KEY. Whatever it does must go through the HTTP API.
const BIN = join(PROJECT_ROOT, 'bin', 'journeys.js');
const stackDir = mkdtempSync(join(tmpdir(), 'journeys-remote-stack-'));
const cliDir = mkdtempSync(join(tmpdir(), 'journeys-remote-cli-'));
// Settings that would send the child elsewhere than its empty DATA_DIR, or to a Temporal, are not inherited.
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(DATA_DIR|DATABASE_URL|PAYLOAD_KEYS|JOURNEYS_URL|JOURNEYS_API_KEY|TEMPORAL_(ADDRESS|NAMESPACE|API_KEY|PROFILE|TLS.*|GRPC_META_.*))$/.test(name)),
);
const CART = JSON.stringify({ cartId: 'rc-1', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' });
const WORKFLOW_ID = 'cartAbandonment:remote-ada:rc-1';

let config: Config;
let stack: Stack | undefined;
let key = '';
let local: ConnectedJourneys | undefined;
let localStore: Store | undefined;
/** Everything the child processes printed, checked at the end for the key. */
const printed: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `journeys <args>` in a process of its own, on the empty data folder, pointed at the stack's API with the ops key. */
function journeys(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const settings = { ...inherited, DATA_DIR: cliDir, JOURNEYS_URL: stack!.apiUrl, JOURNEYS_API_KEY: key, ...env };
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: tmpdir(), env: settings, timeout: 30_000 }, (err, stdout, stderr) => {
      printed.push(stdout, stderr);
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** The same command in-process, the way it runs without JOURNEYS_URL: on the stack's store and Temporal. */
async function locally(args: string[]): Promise<Run> {
  const stdout = new Captured();
  const stderr = new Captured();
  const deps: CliDeps = {
    connect: async () => ({ journeys: local!.journeys, close: async () => undefined }),
    openStore: async () => ({ store: localStore!, close: async () => undefined }),
    stdout,
    stderr,
  };
  const code = await runCli(args, deps);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

beforeAll(async () => {
  quietRuntime();
  config = await devStackConfig(stackDir);
  stack = await startStack(config, () => {}, { workflowBundle: await journeyWorkflowBundle() });
  local = await connectJourneys(config);
  localStore = await openConfiguredStore(config);
});
afterAll(async () => {
  await local?.close();
  await localStore?.close();
  await stack?.stop();
  if (config) keepInSuiteOutbox(config.smtp.outboxDir);
  if (!process.env.KEEP_TEST_DATA) {
    rmSync(stackDir, { recursive: true, force: true });
    rmSync(cliDir, { recursive: true, force: true });
  }
});

describe('journeys with JOURNEYS_URL: the operator commands over the HTTP API', () => {
  it('keys create works on the store this machine opens, and says so', async () => {
    // The stack's data folder, as on the deployment's host: the key lands in its store.
    const created = await journeys(['keys', 'create', '--name', 'ops', '--scope', 'admin'], { DATA_DIR: stackDir, JOURNEYS_API_KEY: '' });
    expect(created).toMatchObject({ code: 0, stdout: expect.stringMatching(/^jk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/) });
    expect(created.stderr).toContain(
      `note: JOURNEYS_URL is set, but journeys keys create manages the API keys of the store this machine opens (DATA_DIR or DATABASE_URL here), not the one of ${stack!.apiUrl}\n`,
    );
    key = created.stdout.trim();
    printed.length = 0; // the only output that may show the key
  });

  it('event starts a journey, status and audit show it, consent withdraw ends it, sends lists its email: as locally', async () => {
    const api = new JourneysHttpClient({ url: stack!.apiUrl, apiKey: key });
    await api.upsertProfile({ customerId: 'remote-ada', email: 'remote-ada@example.com', attributes: { firstName: 'Ada' } });

    const event = await journeys(['event', 'cart.updated', 'remote-ada', '--id', 'remote-evt-1', '--properties', CART]);
    expect(event).toEqual({ code: 0, stderr: '', stdout: `event remote-evt-1 recorded\n  started:   ${WORKFLOW_ID}\n  signalled: none\n` });
    const again = await journeys(['event', 'cart.updated', 'remote-ada', '--id', 'remote-evt-1', '--properties', CART]);
    expect(again).toEqual({ code: 0, stderr: '', stdout: 'event remote-evt-1 was recorded before: nothing new happened\n' });

    const running = await journeys(['status', 'remote-ada']);
    expect(running).toMatchObject({ code: 0, stderr: '' });
    expect(running.stdout).toMatch(new RegExp(`^WORKFLOW ID +JOURNEY +STATUS +CURRENT STEP +NEXT WAKE-UP\n${WORKFLOW_ID} +cartAbandonment +running +\\S+`));

    // Waits are 14,400 times shorter: the first reminder goes out a quarter second after the event.
    await eventually(() => api.audit('remote-ada'), (entries) => entries.some((e) => e.kind === 'send'), 'the first reminder sent');
    const withdrawn = await journeys(['consent', 'withdraw', 'remote-ada']);
    expect(withdrawn).toEqual({ code: 0, stderr: '', stdout: `marketing consent withdrawn for remote-ada (source: cli)\n  ending 1 running journey run(s): ${WORKFLOW_ID}\n` });

    const ended = await eventually(() => journeys(['status', 'remote-ada']), (run) => run.stdout.includes('consent_withdrawn'), 'the run ended by the withdrawal');
    expect(ended.stdout).toMatch(new RegExp(`\n${WORKFLOW_ID} +cartAbandonment +consent_withdrawn +`));
    // The run has ended, so nothing moves between the two: the output is the local one, to the byte.
    expect(ended).toEqual(await locally(['status', 'remote-ada']));

    const audit = await journeys(['audit', 'remote-ada']);
    expect(audit).toMatchObject({ code: 0, stderr: '' });
    expect(audit.stdout).toMatch(new RegExp(`^\\S+  journey +entered cartAbandonment \\(topic marketing\\)  ← ${WORKFLOW_ID}$`, 'm'));
    expect(audit.stdout).toMatch(new RegExp(`^\\S+  send +sent reminder1\\S* \\(.+\\)  ← ${WORKFLOW_ID} step reminder1$`, 'm'));
    expect(audit.stdout).toMatch(/^\S+ {2}consent +consent marketing withdrawn {2}← cli$/m);
    expect(audit).toEqual(await locally(['audit', 'remote-ada']));

    const sends = await journeys(['sends', '--status', 'sent']);
    expect(sends).toMatchObject({ code: 0, stderr: '' });
    expect(sends.stdout).toMatch(/^WHEN +JOURNEY +CUSTOMER +STEP +WORKFLOW ID +REASON\n/);
    expect(sends.stdout).toMatch(new RegExp(`^\\S+ +cartAbandonment +remote-ada +reminder1 +${WORKFLOW_ID} +`, 'm'));
    expect(sends).toEqual(await locally(['sends', '--status', 'sent']));
  }, 60_000);

  it('bad input exits 2 with the lines a local run prints: checked by the CLI (customer id) or by the API (sends status)', async () => {
    const [badId, badStatus] = await Promise.all([journeys(['status', 'eve@example.com']), journeys(['sends', '--status', 'lost'])]);
    expect(badId).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^error: invalid customer id\n {2}customerId: use letters/) });
    expect(badId).toEqual(await locally(['status', 'eve@example.com']));
    expect(badStatus).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^error: invalid sends query\n {2}status: /) });
    expect(badStatus).toEqual(await locally(['sends', '--status', 'lost']));

    // The API's 400 becomes the ValidationError a local call throws, field paths and all.
    const api = new JourneysHttpClient({ url: stack!.apiUrl, apiKey: key });
    const remote = await api.audit('eve@example.com').catch((err: unknown) => err);
    const here = await local!.journeys.audit('eve@example.com').catch((err: unknown) => err);
    expect(remote).toBeInstanceOf(ValidationError);
    expect(remote).toMatchObject({ what: (here as ValidationError).what, problems: (here as ValidationError).problems, message: (here as ValidationError).message });
  });

  it('an unreachable JOURNEYS_URL and a key the API does not know: one clear line each; segments go through the API', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const wrongKey = `jk_0123456789abcdef_${'s'.repeat(43)}`;
    const [unreachable, refused, segments] = await Promise.all([
      journeys(['status', 'remote-ada'], { JOURNEYS_URL: closed }),
      journeys(['status', 'remote-ada'], { JOURNEYS_API_KEY: wrongKey }),
      journeys(['segments', 'remote-ada']),
    ]);
    expect(unreachable).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: cannot reach the journeys HTTP API at ${closed} (JOURNEYS_URL): connect ECONNREFUSED ${closed.slice('http://'.length)}\n`,
    });
    // The key is never printed.
    expect(`${refused.stdout}${refused.stderr}`).not.toContain('s'.repeat(43));
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/^error: the journeys HTTP API at \S+ refused the request \(401 unauthorized: [^\n]+\): JOURNEYS_API_KEY holds no valid key of that deployment[^\n]*\n$/),
    });
    expect(segments.code).toBe(0);
    expect(segments.stdout).toMatch(/^(SEGMENT\s+NAME\s+ENTERED AT\n|customer remote-ada is in no segments\n$)/);
  });

  it('JOURNEYS_URL must be an http(s) URL, and JOURNEYS_API_KEY needs it', () => {
    expect(remoteFromEnv({})).toBeUndefined();
    expect(remoteFromEnv({ JOURNEYS_URL: 'https://journeys-admin.internal:3000/', JOURNEYS_API_KEY: key })?.url).toBe('https://journeys-admin.internal:3000');
    expect(() => remoteFromEnv({ JOURNEYS_URL: 'journeys-admin.internal:3000' })).toThrow(UsageError);
    expect(() => remoteFromEnv({ JOURNEYS_URL: 'journeys-admin.internal:3000' })).toThrow(/^JOURNEYS_URL does not start with http:\/\/ or https:\/\//);
    expect(() => remoteFromEnv({ JOURNEYS_URL: 'https://ops:s3cret@journeys-admin.internal' })).toThrow(/^JOURNEYS_URL holds a user or password: an API key goes in JOURNEYS_API_KEY/);
    expect(() => remoteFromEnv({ JOURNEYS_URL: 'https://ops:s3cret@journeys-admin.internal' })).not.toThrow(/s3cret/);
    expect(() => remoteFromEnv({ JOURNEYS_API_KEY: key })).toThrow(/^JOURNEYS_API_KEY is set but JOURNEYS_URL is not/);
    expect(() => remoteFromEnv({ JOURNEYS_URL: 'http://127.0.0.1:3000', JOURNEYS_API_KEY: 'jk_a b' })).toThrow(/^JOURNEYS_API_KEY holds spaces/);
  });

  it('never opened a store of its own or printed the key', () => {
    expect(readdirSync(cliDir)).toEqual([]);
    expect(printed.length).toBeGreaterThan(0);
    for (const output of printed) expect(output).not.toContain(key.slice('jk_0123456789abcdef_'.length));
  });
});
