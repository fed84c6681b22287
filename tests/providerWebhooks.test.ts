import { createHmac, createPrivateKey, generateKeyPairSync, sign, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildPublicApi } from '../api/public';
import { readConfig } from '../config';
import { addressHash } from '../domain/delivery/address';
import type { ProviderFeedbackSettings } from '../domain/delivery/providers/feedback';
import { createUnsubscribeSigner } from '../domain/delivery/unsubscribeTokens';
import type journey from '../workflows';
import { startJourneyEnv, TEST_UNSUBSCRIBE, type JourneyEnv } from './support/journeyEnv';
import { describeStores } from './support/stores';

const TOPIC = 'arn:aws:sns:us-west-2:123456789012:MyTopic';
const CERT_URL = 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem';
const MAILGUN_KEY = 'key-test-mailgun-signing-0123456789';
const POSTMARK = { user: 'postmark', password: 'postmark-test-password' };
const sendgrid = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const settings: ProviderFeedbackSettings = {
  ses: { topicArns: [TOPIC] },
  sendgrid: { publicKey: sendgrid.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') },
  mailgun: { signingKey: MAILGUN_KEY },
  postmark: POSTMARK,
};
const CUSTOMERS = ['ses-bounce', 'ses-complaint', 'ses-delivery', 'sg-a', 'sg-b', 'mg-failed', 'mg-delivered', 'mg-complained', 'pm-bounce', 'pm-delivery', 'pm-complaint'];

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, 'fixtures/providerFeedback', `${name}.json`), 'utf8')) as Record<string, unknown>;
/** A documented sample about one of our sends: its message id and address are the send's, nothing else changes. */
const about = (sample: object, replace: Record<string, string>) =>
  JSON.parse(Object.entries(replace).reduce((text, [from, to]) => text.split(from).join(to), JSON.stringify(sample))) as Record<string, unknown>;

let t: JourneyEnv;
let api: FastifyInstance;
let url: string;
let sns: { pem: string; key: KeyObject };
/** Our sends: the Message-ID each customer's first reminder went out with, read from the email in the SMTP server. */
const sent = new Map<string, { messageId: string; email: string; workflowId: string }>();
// SNS is on the internet, which tests cannot reach: this stands in for the one network call the
// webhooks make, serving the test's own signing certificate and noting every URL visited.
const visited: string[] = [];
const fetchFromSns = async (target: string) => {
  visited.push(target);
  if (target === CERT_URL) return sns.pem;
  if (target.startsWith('https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription')) return '<ConfirmSubscriptionResponse/>';
  throw new Error(`GET ${target} answered 404`);
};

/** A self-signed RSA certificate, as SNS would serve at SigningCertURL. */
async function snsCertificate() {
  x509.cryptoProvider.set(webcrypto);
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=sns.amazonaws.com', notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000), signingAlgorithm: algorithm, keys });
  const key = createPrivateKey({ key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), format: 'der', type: 'pkcs8' });
  return { pem: certificate.toString('pem'), key };
}

/** Signed as the SNS developer guide says: the documented fields in byte order, `name\nvalue\n` each. */
function snsSigned(envelope: Record<string, unknown>, key = sns.key, version: '1' | '2' = '1') {
  const message: Record<string, unknown> = { ...envelope, SignatureVersion: version };
  const fields = message.Type === 'Notification' ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const text = fields.filter((f) => f in message).map((f) => `${f}\n${String(message[f])}\n`).join('');
  return { ...message, Signature: sign(version === '1' ? 'sha1' : 'sha256', Buffer.from(text), key).toString('base64') };
}
const sesNotification = (ses: object) => ({ ...fixture('sns-notification'), Message: JSON.stringify(ses) });

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
const postSns = (message: object) => post('/webhooks/ses', message, { 'content-type': 'text/plain; charset=UTF-8' });
function postSendgrid(events: object[], key = sendgrid.privateKey, tamper = (body: string) => body) {
  const body = JSON.stringify(events);
  const timestamp = '1700000000';
  const signature = sign('sha256', Buffer.from(timestamp + body), key).toString('base64');
  return post('/webhooks/sendgrid', tamper(body), { 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp });
}
function mailgunSigned(webhook: Record<string, unknown>, key = MAILGUN_KEY) {
  const { token, timestamp } = webhook.signature as { token: string; timestamp: string };
  return { ...webhook, signature: { token, timestamp, signature: createHmac('sha256', key).update(timestamp + token).digest('hex') } };
}
const basic = ({ user, password }: typeof POSTMARK) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

/** The email.* events recorded for the customer, as the store has them. */
const feedbackOf = async (customerId: string) => (await t.store.eventsOf(customerId)).filter((event) => event.type.startsWith('email.'));
const suppressionOf = async (email: string) => (await t.store.suppressionFor(addressHash(email)))?.reason;
const properties = (customerId: string, extra: Record<string, string>) => ({ workflowId: sent.get(customerId)?.workflowId, journeyId: 'cartAbandonment', stepId: 'reminder1', template: 'reminder1', ...extra });

describe('provider feedback webhooks', () => {
  beforeAll(async () => {
    sns = await snsCertificate();
    t = await startJourneyEnv();
    const unsubscribe = { signer: createUnsubscribeSigner(TEST_UNSUBSCRIBE.keys), store: t.store, policy: t.app.policy, topics: ['marketing'] };
    api = buildPublicApi({ journeys: t.client, bodyLimit: 64 * 1024, logger: false, listenHost: '127.0.0.1', unsubscribe, providerWebhooks: { settings, store: t.store, fetchFromSns } });
    url = await api.listen({ host: '127.0.0.1', port: 0 });
    for (const customerId of CUSTOMERS) {
      await t.client.upsertProfile({ customerId, email: `${customerId}@example.com`, attributes: {} });
      await t.client.ingest({ id: `cart-${customerId}`, type: 'cart.updated', customerId, properties: { cartId: 'c1', items: [{ name: 'Trail shoes', quantity: 1, price: 80 }], total: 80, currency: 'EUR' } });
    }
    await t.env.sleep('61m');
    for (const customerId of CUSTOMERS) {
      const email = `${customerId}@example.com`;
      const [reminder] = await t.mailbox.waitForCount(1, { to: email });
      sent.set(customerId, { messageId: String(reminder.headers.get('message-id')), email, workflowId: `cartAbandonment:${customerId}:c1` });
    }
  });
  afterAll(async () => {
    await api?.close();
    await t?.close();
  });
  const ids = (customerId: string) => ({ 'custom-message-ID': sent.get(customerId)?.messageId ?? '', 'jane@example.com': `${customerId}@example.com`, 'richard@example.com': `${customerId}@example.com` });

  it('Amazon SES: the documented bounce, signed by SNS, becomes email.bounced of the send, suppresses the address, and sent again is a duplicate', async () => {
    const bounce = snsSigned(sesNotification(about(fixture('ses-bounce'), ids('ses-bounce'))));
    const eventId = 'ses:bounce:00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000';
    expect(await postSns(bounce)).toEqual({ status: 200, body: { recorded: [eventId], duplicates: [], unmatched: 0 } });
    expect(await feedbackOf('ses-bounce')).toEqual([
      { id: eventId, type: 'email.bounced', customerId: 'ses-bounce', occurredAt: '2016-01-27T14:59:38.237Z', properties: properties('ses-bounce', { provider: 'ses', bounceType: 'hard', diagnostic: 'smtp; 550 5.1.1 <ses-bounce@example.com>... User' }) },
    ]);
    expect(await suppressionOf('ses-bounce@example.com')).toBe('bounce');
    expect(await postSns(bounce)).toEqual({ status: 200, body: { recorded: [], duplicates: [eventId], unmatched: 0 } });
    expect(await feedbackOf('ses-bounce')).toHaveLength(1);
    expect(visited.filter((target) => target === CERT_URL)).toHaveLength(1);
  });

  it('Amazon SES: the documented complaint (SignatureVersion 2) suppresses the address and withdraws marketing consent', async () => {
    const complaint = snsSigned(sesNotification(about(fixture('ses-complaint'), ids('ses-complaint'))), sns.key, '2');
    expect((await postSns(complaint)).status).toBe(200);
    expect((await feedbackOf('ses-complaint')).map((e) => [e.type, e.properties])).toEqual([['email.complained', properties('ses-complaint', { provider: 'ses', diagnostic: 'abuse' })]]);
    expect(await suppressionOf('ses-complaint@example.com')).toBe('complaint');
    expect((await t.store.consentLedger('ses-complaint')).map((c) => [c.topic, c.status, c.source])).toEqual([['marketing', 'withdrawn', 'complaint: ses webhook']]);
  });

  it('Amazon SES: forged, altered, unsigned or foreign notifications get 401 and record nothing', async () => {
    const delivery = sesNotification(about(fixture('ses-delivery'), ids('ses-delivery')));
    const attacker = await snsCertificate();
    const forged = [
      { ...snsSigned(delivery), Message: JSON.stringify({ ...about(fixture('ses-delivery'), ids('ses-delivery')), notificationType: 'Bounce' }) },
      snsSigned(delivery, attacker.key),
      { ...delivery, Signature: undefined },
      snsSigned({ ...delivery, TopicArn: 'arn:aws:sns:us-west-2:999999999999:SomeoneElses' }),
      snsSigned({ ...delivery, SigningCertURL: 'https://sns.us-west-2.amazonaws.com.evil.example/cert.pem' }),
      snsSigned({ ...delivery, SigningCertURL: 'http://sns.us-west-2.amazonaws.com/cert.pem' }),
    ];
    for (const message of forged) expect((await postSns(message)).status, JSON.stringify(message).slice(0, 120)).toBe(401);
    expect(await post('/webhooks/ses', 'not json', { 'content-type': 'text/plain' })).toMatchObject({ status: 401 });
    expect(visited.filter((target) => target !== CERT_URL)).toEqual([]);
    expect(await feedbackOf('ses-delivery')).toEqual([]);

    expect((await postSns(snsSigned(delivery))).body).toEqual({ recorded: ['ses:delivery:0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000'], duplicates: [], unmatched: 0 });
    expect((await feedbackOf('ses-delivery')).map((e) => [e.type, e.properties])).toEqual([['email.delivered', properties('ses-delivery', { provider: 'ses' })]]);
  });

  it('Amazon SNS: a subscription to an allowed topic is confirmed at its SubscribeURL; another topic or host is refused', async () => {
    const confirmation = fixture('sns-subscription-confirmation');
    expect(await postSns(snsSigned(confirmation))).toEqual({ status: 200, body: { confirmed: TOPIC } });
    expect(visited).toContain(confirmation.SubscribeURL);
    const before = visited.length;
    expect((await postSns(snsSigned({ ...confirmation, TopicArn: 'arn:aws:sns:us-west-2:999999999999:SomeoneElses' }))).status).toBe(401);
    expect((await postSns(snsSigned({ ...confirmation, SubscribeURL: 'https://evil.example/?Action=ConfirmSubscription' }))).status).toBe(401);
    expect(visited.slice(before).filter((target) => target !== CERT_URL)).toEqual([]);
  });

  it('SendGrid: the documented events, signed, become events of their sends; an unknown message still suppresses a hard bounce', async () => {
    const [processed, delivered, bounce, blocked, dropped, spamreport, open] = fixture('sendgrid-events') as unknown as Record<string, unknown>[];
    const of = (event: object, customerId: string) => ({ ...event, 'smtp-id': sent.get(customerId)?.messageId, email: `${customerId}@example.com` });
    // The documentation gives its blocked example the bounce example's sg_event_id: one id names one event.
    const events = [of(processed, 'sg-a'), of(delivered, 'sg-a'), of(bounce, 'sg-b'), { ...of(blocked, 'sg-a'), sg_event_id: 'blocked-6g4ZI7SA' }, { ...dropped, 'smtp-id': '<elsewhere@example.net>', email: 'gone@example.net' }, of(spamreport, 'sg-a'), of(open, 'sg-a')];

    const tampered = await postSendgrid(events, sendgrid.privateKey, (body) => body.replace('"bounce"', '"delivered"'));
    const otherKey = await postSendgrid(events, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    const unsigned = await post('/webhooks/sendgrid', events);
    expect([tampered.status, otherKey.status, unsigned.status]).toEqual([401, 401, 401]);
    expect([...(await feedbackOf('sg-a')), ...(await feedbackOf('sg-b'))]).toEqual([]);
    expect(await suppressionOf('gone@example.net')).toBeUndefined();

    expect(await postSendgrid(events)).toEqual({ status: 200, body: { recorded: ['sendgrid:rWVYmVk90MjZJ9iohOBa3w==', 'sendgrid:6g4ZI7SA-xmRDv57GoPIPw==', 'sendgrid:blocked-6g4ZI7SA', 'sendgrid:37nvH5QBz858KGVYCM4uOA=='], duplicates: [], unmatched: 1 } });
    expect((await feedbackOf('sg-a')).map((e) => [e.type, e.occurredAt, e.properties])).toEqual([
      ['email.delivered', '2017-12-15T00:59:29.000Z', properties('sg-a', { provider: 'sendgrid' })],
      ['email.bounced', '2017-12-15T00:59:29.000Z', properties('sg-a', { provider: 'sendgrid', bounceType: 'soft', diagnostic: '500 unknown recipient' })],
      ['email.complained', '2017-12-15T00:59:29.000Z', properties('sg-a', { provider: 'sendgrid' })],
    ]);
    expect((await feedbackOf('sg-b')).map((e) => e.properties)).toEqual([properties('sg-b', { provider: 'sendgrid', bounceType: 'hard', diagnostic: '500 unknown recipient' })]);
    expect([await suppressionOf('sg-a@example.com'), await suppressionOf('sg-b@example.com'), await suppressionOf('gone@example.net')]).toEqual(['complaint', 'bounce', 'bounce']);
  });

  it('Mailgun: the documented delivered, permanent failure and complaint webhooks, signed, become events; a wrong key or no signature gets 401', async () => {
    const webhook = (name: string, customerId: string) => {
      const sample = fixture(name) as { 'event-data': { message: { headers: Record<string, string> } } };
      // Mailgun gives the Message-ID without its angle brackets.
      return about(sample, { [sample['event-data'].message.headers['message-id']]: (sent.get(customerId)?.messageId ?? '').slice(1, -1), 'alice@example.com': `${customerId}@example.com` });
    };
    const failed = webhook('mailgun-failed', 'mg-failed');
    expect((await post('/webhooks/mailgun', mailgunSigned(failed, 'key-someone-elses'))).status).toBe(401);
    expect((await post('/webhooks/mailgun', { ...failed, signature: undefined })).status).toBe(401);
    expect(await feedbackOf('mg-failed')).toEqual([]);

    const eventId = 'mailgun:G9Bn5sl1TC6nu79C8C0bwg:1521233195.375624';
    expect((await post('/webhooks/mailgun', mailgunSigned(failed))).body).toEqual({ recorded: [eventId], duplicates: [], unmatched: 0 });
    expect((await post('/webhooks/mailgun', mailgunSigned(failed))).body).toEqual({ recorded: [], duplicates: [eventId], unmatched: 0 });
    expect((await post('/webhooks/mailgun', mailgunSigned(webhook('mailgun-delivered', 'mg-delivered')))).status).toBe(200);
    expect((await post('/webhooks/mailgun', mailgunSigned(webhook('mailgun-complained', 'mg-complained')))).status).toBe(200);
    expect((await feedbackOf('mg-failed')).map((e) => e.properties)).toEqual([properties('mg-failed', { provider: 'mailgun', bounceType: 'hard', diagnostic: 'Not delivering to previously bounced address' })]);
    expect((await feedbackOf('mg-delivered')).map((e) => e.type)).toEqual(['email.delivered']);
    expect((await feedbackOf('mg-complained')).map((e) => e.type)).toEqual(['email.complained']);
    expect([await suppressionOf('mg-failed@example.com'), await suppressionOf('mg-complained@example.com')]).toEqual(['bounce', 'complaint']);
  });

  it('Postmark: the documented Delivery, Bounce and SpamComplaint records, with basic auth, become events; without it, 401', async () => {
    const record = (name: string, customerId: string) => about(fixture(name), { 'john@example.com': `${customerId}@example.com` });
    // Postmark reports its own message id: ours comes in the metadata (X-PM-Metadata-MessageID) or the bounce content's quoted headers.
    const bounce = { ...record('postmark-bounce', 'pm-bounce'), Content: `Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: ${sent.get('pm-bounce')?.messageId}\r\n` };
    // Postmark copies the email's X-PM-Metadata-* headers into Metadata: take it from the email that arrived.
    const [delivered] = await t.mailbox.emailsTo('pm-delivery@example.com');
    expect(delivered.headers.get('x-pm-metadata-messageid')).toBe(sent.get('pm-delivery')?.messageId);
    const delivery = { ...record('postmark-delivery', 'pm-delivery'), Metadata: { a_key: 'a_value', MessageID: delivered.headers.get('x-pm-metadata-messageid') } };
    const complaint = { ...record('postmark-spam-complaint', 'pm-complaint'), Metadata: { MessageID: sent.get('pm-complaint')?.messageId } };

    const unauthorised = await fetch(`${url}/webhooks/postmark`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bounce) });
    expect([unauthorised.status, unauthorised.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="journeys provider feedback"']);
    expect((await post('/webhooks/postmark', bounce, basic({ ...POSTMARK, password: 'wrong-password-guess' }))).status).toBe(401);
    expect(await feedbackOf('pm-bounce')).toEqual([]);

    for (const body of [bounce, delivery, complaint]) expect((await post('/webhooks/postmark', body, basic(POSTMARK))).status).toBe(200);
    expect((await feedbackOf('pm-bounce')).map((e) => [e.id, e.occurredAt, e.properties])).toEqual([
      ['postmark:bounce:883953f4-6105-42a2-a16a-77a8eac79483:2019-11-05T16:33:54.9070259Z', '2019-11-05T16:33:54.907Z', properties('pm-bounce', { provider: 'postmark', bounceType: 'hard', diagnostic: 'Test bounce details' })],
    ]);
    expect((await feedbackOf('pm-delivery')).map((e) => e.type)).toEqual(['email.delivered']);
    expect((await feedbackOf('pm-complaint')).map((e) => e.type)).toEqual(['email.complained']);
    expect((await t.store.consentLedger('pm-complaint')).map((c) => c.source)).toEqual(['complaint: postmark webhook']);
  });

  // The journeys wait 24 h before their next reminder: time moves on only here, after every notification above.
  it('after a hard bounce the next reminder is not sent (the send ledger skips it as suppressed); after a complaint the journey has ended', async () => {
    await t.env.sleep('24h');
    await t.mailbox.waitForCount(2, { to: 'ses-delivery@example.com' });
    for (const customerId of ['ses-bounce', 'sg-b', 'mg-failed', 'pm-bounce']) {
      await vi.waitFor(async () => expect((await t.store.sendsOf(customerId)).map((s) => [s.stepId, s.status, s.reason])).toEqual([['reminder1', 'sent', undefined], ['reminder2', 'skipped', 'suppressed: bounce']]), { timeout: 20_000 });
      expect(await t.mailbox.emailsTo(`${customerId}@example.com`)).toHaveLength(1);
    }
    for (const customerId of ['ses-complaint', 'sg-a', 'mg-complained', 'pm-complaint']) {
      expect((await t.env.client.workflow.getHandle<typeof journey>(`cartAbandonment:${customerId}:c1`).result()).status).toBe('consent_withdrawn');
      expect(await t.mailbox.emailsTo(`${customerId}@example.com`)).toHaveLength(1);
    }
  });

  it('a provider without settings answers 404 naming them', async () => {
    const bare = buildPublicApi({ journeys: t.client, bodyLimit: 64 * 1024, logger: false, unsubscribe: { signer: createUnsubscribeSigner(TEST_UNSUBSCRIBE.keys), store: t.store, policy: t.app.policy, topics: [] }, providerWebhooks: { settings: {}, store: t.store, fetchFromSns } });
    const answer = await bare.inject({ method: 'POST', url: '/webhooks/mailgun', payload: {} });
    expect([answer.statusCode, answer.json()]).toEqual([404, { error: 'not_found', message: 'Mailgun feedback is not configured: set MAILGUN_WEBHOOK_SIGNING_KEY' }]);
    await bare.close();
  });
});

describe('provider feedback settings', () => {
  it('configures each provider on its own and names the setting that is wrong', () => {
    const key = settings.sendgrid?.publicKey ?? '';
    expect(readConfig({}, '/srv/journeys').providerFeedback).toEqual({});
    expect(readConfig({ SES_SNS_TOPIC_ARNS: `${TOPIC}, arn:aws:sns:eu-west-1:123456789012:other`, SENDGRID_WEBHOOK_PUBLIC_KEY: key }, '/srv/journeys').providerFeedback).toEqual({
      ses: { topicArns: [TOPIC, 'arn:aws:sns:eu-west-1:123456789012:other'] },
      sendgrid: { publicKey: key },
    });
    expect(() => readConfig({ SES_SNS_TOPIC_ARNS: 'MyTopic' }, '/srv/journeys')).toThrow(/SES_SNS_TOPIC_ARNS: list the SNS topics/);
    expect(() => readConfig({ SENDGRID_WEBHOOK_PUBLIC_KEY: 'not-a-key' }, '/srv/journeys')).toThrow(/SENDGRID_WEBHOOK_PUBLIC_KEY: the Signed Event Webhook verification key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(() => readConfig({ SENDGRID_WEBHOOK_PUBLIC_KEY: rsa }, '/srv/journeys')).toThrow(/not an ECDSA P-256 public key/);
    expect(() => readConfig({ POSTMARK_WEBHOOK_USER: 'postmark' }, '/srv/journeys')).toThrow(/POSTMARK_WEBHOOK_PASSWORD: Postmark webhooks need POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD together/);
  });
});

describeStores('the send ledger by Message-ID', ({ open, location }) => {
  it('finds the send an email went out as, through its index', async () => {
    const store = await open();
    const key = { workflowId: 'cartAbandonment:c1:A', stepId: 'reminder1', customerId: 'c1', journeyId: 'cartAbandonment', topic: 'marketing' };
    await store.reserveSend(key, '2025-01-01T10:00:00.000Z');
    const message = { envelope: { from: 'shop@example.com', to: ['ada@example.com'] }, raw: Buffer.from('Subject: hi\r\n\r\nhello') };
    const recheck = { consent: [{ topic: 'marketing', unrecorded: 'granted' as const }], addressHash: 'hash-of-ada' };
    await store.claimSend({ workflowId: key.workflowId, stepId: key.stepId, from: 'reserved', owner: 'run/1#1', at: '2025-01-01T10:00:01.000Z', template: 'reminder1', messageId: '<m1@journeys>', message, recheck });
    expect(await store.sendByMessageId('<m1@journeys>')).toMatchObject({ ...key, status: 'sending', template: 'reminder1', messageId: '<m1@journeys>' });
    expect(await store.sendByMessageId('<m2@journeys>')).toBeUndefined();
    expect(await location().appliedMigrations()).toContain('0013_sends_by_message_id');
  });
});
