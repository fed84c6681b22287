import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromLoopback } from '../api/auth';
import { registerCodecRoutes } from '../api/codec';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA, type PayloadKey } from '../codec/payloadCodec';
import { ConfigError, PROJECT_ROOT, readConfig } from '../config';

const keyOf = (id: string): PayloadKey => ({ id, key: randomBytes(32) });
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const profile = { customerId: 'c-zq', email: 'zelda.quimby@example.com', attributes: { firstName: 'Zelda', total: 987.65 } };

describe('the payload codec (AES-256-GCM)', () => {
  const old = keyOf('k2024');
  const next = keyOf('k2025');

  it('encrypts the whole payload, metadata included, under the first key and decodes it back unchanged', async () => {
    const codec = new EncryptionCodec([old]);
    const payloads = [defaultPayloadConverter.toPayload(profile), defaultPayloadConverter.toPayload(new Uint8Array([1, 2, 3])), defaultPayloadConverter.toPayload(undefined)];
    const encoded = await codec.encode(payloads);

    for (const payload of encoded) {
      expect(Object.keys(payload.metadata ?? {}).sort()).toEqual([METADATA_ENCODING_KEY, KEY_ID_METADATA].sort());
      expect(text(payload.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
      expect(text(payload.metadata?.[KEY_ID_METADATA])).toBe('k2024');
      expect(text(payload.data)).not.toMatch(/zelda|json\/plain|binary\/null/i);
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([profile, new Uint8Array([1, 2, 3]), undefined]);
    expect(decoded.map((p) => text(p.metadata?.[METADATA_ENCODING_KEY]))).toEqual(['json/plain', 'binary/plain', 'binary/null']);
  });

  it('draws a fresh IV for every payload: the same value never encrypts to the same bytes', async () => {
    const codec = new EncryptionCodec([old]);
    const [a, b] = await codec.encode([defaultPayloadConverter.toPayload(profile), defaultPayloadConverter.toPayload(profile)]);
    expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
    expect(Buffer.from(a.data!).subarray(0, 12).equals(Buffer.from(b.data!).subarray(0, 12))).toBe(false);
  });

  it('rotates: after PAYLOAD_KEYS becomes new,old, payloads of the old key still decode and new ones use the new key', async () => {
    const [written] = await new EncryptionCodec([old]).encode([defaultPayloadConverter.toPayload(profile)]);
    const rotated = new EncryptionCodec([next, old]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([written]))[0])).toEqual(profile);
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(profile)]);
    expect(text(fresh.metadata?.[KEY_ID_METADATA])).toBe('k2025');
    expect(defaultPayloadConverter.fromPayload((await new EncryptionCodec([next]).decode([fresh]))[0])).toEqual(profile);
  });

  it('names the key id and PAYLOAD_KEYS when a payload needs a key it does not hold', async () => {
    const [written] = await new EncryptionCodec([old]).encode([defaultPayloadConverter.toPayload(profile)]);
    await expect(new EncryptionCodec([next]).decode([written])).rejects.toThrow(/key "k2024", which PAYLOAD_KEYS does not hold \(it holds "k2025"\)/);
  });

  it('refuses a payload whose ciphertext or tag was altered, and one read with another key under the same id', async () => {
    const codec = new EncryptionCodec([old]);
    const [written] = await codec.encode([defaultPayloadConverter.toPayload(profile)]);
    const flipped = (index: number): Payload => {
      const data = Buffer.from(written.data!);
      data[index] ^= 0x01;
      return { ...written, data: new Uint8Array(data) };
    };
    await expect(codec.decode([flipped(20)])).rejects.toThrow(/encrypted with key "k2024" fails authentication/);
    await expect(codec.decode([flipped(written.data!.length - 1)])).rejects.toThrow(/fails authentication/);
    await expect(new EncryptionCodec([keyOf('k2024')]).decode([written])).rejects.toThrow(/fails authentication/);
  });

  it('passes a payload that is not encrypted through untouched, so histories from before the codec stay readable', async () => {
    const plain = defaultPayloadConverter.toPayload(profile);
    const [decoded] = await new EncryptionCodec([old]).decode([plain]);
    expect(decoded).toBe(plain);
  });
});

describe('the PAYLOAD_KEYS setting', () => {
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');
  const read = (value: string) => readConfig({ PAYLOAD_KEYS: value }, PROJECT_ROOT);

  it('is off unless set, and reads kid:base64key pairs in order (the first encrypts)', () => {
    expect(readConfig({}, PROJECT_ROOT).payloadKeys).toBeUndefined();
    expect(readConfig({ PAYLOAD_KEYS: '' }, PROJECT_ROOT).payloadKeys).toBeUndefined();
    expect(read(` new:${k1} , old:${k2}`).payloadKeys).toEqual([
      { id: 'new', key: Buffer.from(k1, 'base64') },
      { id: 'old', key: Buffer.from(k2, 'base64') },
    ]);
  });

  it.each([
    ['a key without an id', k1, /PAYLOAD_KEYS: entry 1: write each key as kid:base64key/],
    ['a key that is not base64', 'k1:this is not base64!', /PAYLOAD_KEYS: key "k1": the key is not base64; generate one with `openssl rand -base64 32`/],
    ['a 16-byte key', `k1:${randomBytes(16).toString('base64')}`, /PAYLOAD_KEYS: key "k1": the key is 16 bytes after base64 decoding; AES-256 needs exactly 32/],
    ['a 33-byte key', `k1:${randomBytes(33).toString('base64')}`, /PAYLOAD_KEYS: key "k1": the key is 33 bytes/],
    ['an id used twice', `k1:${k1},k1:${k2}`, /PAYLOAD_KEYS: key "k1": the id appears more than once/],
    ['an id with a space', `my key:${k1}`, /PAYLOAD_KEYS: entry 1: the key id "my key" may hold only letters, digits/],
    ['no key at all', ' , ', /PAYLOAD_KEYS: name at least one key/],
  ])('stops the start on %s, naming PAYLOAD_KEYS and the problem', (_what, value, message) => {
    expect(() => read(value)).toThrow(ConfigError);
    expect(() => read(value)).toThrow(message);
  });

  it('never quotes key material in its messages', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => read(`k1:${k1},k2:${short}`)).not.toThrow(new RegExp(short.replace(/[+/=]/g, '.')));
    expect(() => read(`k1:${k1},k2:${short}`)).not.toThrow(new RegExp(k1.replace(/[+/=]/g, '.')));
  });
});

describe('the codec endpoint the Temporal Web UI calls', () => {
  const ui = 'http://127.0.0.1:8233';
  const codec = new EncryptionCodec([keyOf('k1')]);
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    registerCodecRoutes(app, { codec, allowedOrigins: [ui], authorize: fromLoopback });
    await app.ready();
  });
  afterAll(() => app.close());

  const asJson = (payloads: Payload[]) =>
    payloads.map(({ metadata, data }) => ({
      metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(data ?? new Uint8Array()).toString('base64'),
    }));

  it('decodes and encodes payloads as proto JSON, for a loopback caller from the UI origin, with CORS for it', async () => {
    const encoded = await codec.encode([defaultPayloadConverter.toPayload(profile)]);
    const decoded = await app.inject({ method: 'POST', url: '/codec/decode', headers: { origin: ui, 'x-namespace': 'default' }, payload: { payloads: asJson(encoded) } });
    expect(decoded.statusCode).toBe(200);
    expect(decoded.headers).toMatchObject({ 'access-control-allow-origin': ui, 'access-control-allow-credentials': 'true', 'cache-control': 'no-store' });
    const [payload] = decoded.json<{ payloads: { metadata: Record<string, string>; data: string }[] }>().payloads;
    expect(Buffer.from(payload.metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(payload.data, 'base64').toString())).toEqual(profile);

    const reencoded = await app.inject({ method: 'POST', url: '/codec/encode', headers: { 'x-namespace': 'default' }, payload: { payloads: [payload] } });
    expect(reencoded.statusCode).toBe(200);
    const [again] = reencoded.json<{ payloads: { metadata: Record<string, string> }[] }>().payloads;
    expect(Buffer.from(again.metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
  });

  it('answers the browser preflight for the UI origin, and refuses other origins', async () => {
    const preflight = { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' };
    const ok = await app.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: ui, ...preflight } });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers).toMatchObject({
      'access-control-allow-origin': ui,
      'access-control-allow-credentials': 'true',
      'access-control-allow-headers': 'content-type,x-namespace,authorization',
    });
    expect(String(ok.headers['access-control-allow-methods'])).toContain('POST');

    const evil = await app.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: 'http://evil.example', ...preflight } });
    expect(evil.statusCode).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const rebound = await app.inject({ method: 'POST', url: '/codec/decode', headers: { origin: 'http://evil.example:3000' }, payload: { payloads: [] } });
    expect(rebound.statusCode).toBe(403);
  });

  it('answers 401 to a caller that is not on loopback, or that a proxy forwarded', async () => {
    const encoded = asJson(await codec.encode([defaultPayloadConverter.toPayload(profile)]));
    const remote = await app.inject({ method: 'POST', url: '/codec/decode', remoteAddress: '203.0.113.7', headers: { origin: ui }, payload: { payloads: encoded } });
    expect(remote.statusCode).toBe(401);
    expect(remote.json()).toMatchObject({ error: 'unauthorized' });
    expect(remote.body).not.toContain('zelda');
    // The UI's page can read the refusal (and falls back to showing the payload encoded).
    expect(remote.headers['access-control-allow-origin']).toBe(ui);
    const proxied = await app.inject({ method: 'POST', url: '/codec/decode', headers: { 'x-forwarded-for': '203.0.113.7' }, payload: { payloads: encoded } });
    expect(proxied.statusCode).toBe(401);
  });

  it('answers 400 to a body that is not payloads, and 422 naming the key id to a payload it cannot decode', async () => {
    expect((await app.inject({ method: 'POST', url: '/codec/decode', payload: { payloads: [{ data: 'not base64!' }] } })).statusCode).toBe(400);
    const [foreign] = await new EncryptionCodec([keyOf('other')]).encode([defaultPayloadConverter.toPayload(profile)]);
    const refused = await app.inject({ method: 'POST', url: '/codec/decode', payload: { payloads: asJson([foreign]) } });
    expect(refused.statusCode).toBe(422);
    expect(refused.json<{ message: string }>().message).toMatch(/key "other", which PAYLOAD_KEYS does not hold/);
  });
});
