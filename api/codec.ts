import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { scopeAllows, type ApiKeyVerifier } from '../app/apiKeys';
import { problemsOf } from '../app/errors';
import { fromLoopback } from './auth';

export interface CodecRoutesOptions {
  /** The codec of PAYLOAD_KEYS: what the worker and the client encrypt with. */
  codec: PayloadCodec;
  /** Web UI origins (`http://127.0.0.1:8233`) whose pages may call the endpoint; a request from any other origin gets 403. */
  allowedOrigins: string[];
  /** Whether the caller may read decoded payloads: they hold customer data. False: 401. Not asked for preflight requests. */
  authorize: (request: FastifyRequest) => boolean | Promise<boolean>;
  /** Given: `/codec/session` lets a browser holding an admin key decode (see registerSession). */
  verifier?: ApiKeyVerifier;
}

/** Payloads as proto JSON, the codec server protocol's body: metadata values and data in base64. */
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64');
const payloadsBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() })),
});
type JsonPayload = z.infer<typeof payloadsBody>['payloads'][number];

/** A workflow's whole history can be decoded at once; the caller is authorized before the body is read. */
const CODEC_BODY_LIMIT = 16 * 1024 * 1024;

const ALLOWED_HEADERS = 'content-type,x-namespace,authorization';

/**
 * `POST /codec/encode` and `POST /codec/decode` in the shape of Temporal's codec server
 * protocol, which the Temporal Web UI and the `temporal` CLI (`--codec-endpoint`) call to show
 * encrypted payloads: body `{payloads: [{metadata: {key: base64}, data: base64}]}`, header
 * `X-Namespace` (one codec serves every namespace here). CORS lets the UI's pages call it
 * from their own origin, credentials included.
 */
export function registerCodecRoutes(app: FastifyInstance, options: CodecRoutesOptions): void {
  const { codec, authorize } = options;
  const allowed = new Set(options.allowedOrigins.map((origin) => origin.replace(/\/+$/, '')));

  app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        reply.header('vary', 'Origin').header('cache-control', 'no-store');
        const origin = request.headers.origin;
        // A page of another origin is refused even when it could send the request (a
        // same-origin POST after DNS rebinding carries its Origin too): only the UI may read.
        if (origin !== undefined) {
          if (!allowed.has(origin)) {
            return reply.code(403).send({ error: 'origin_not_allowed', message: `pages of ${origin} may not call the codec endpoint` });
          }
          reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true');
        }
        // A preflight carries no credentials; the request it clears is authorized on its own.
        if (request.method === 'OPTIONS') return;
        if (!(await authorize(request))) {
          return reply.code(401).send({ error: 'unauthorized', message: 'decoded payloads hold customer data: this caller may not read them' });
        }
      });

      const preflight = async (_request: FastifyRequest, reply: FastifyReply) =>
        reply
          .code(204)
          .header('access-control-allow-methods', 'POST, OPTIONS')
          .header('access-control-allow-headers', ALLOWED_HEADERS)
          .header('access-control-max-age', '600')
          .send();

      for (const [path, convert] of [
        ['/encode', (payloads: Payload[]) => codec.encode(payloads)],
        ['/decode', (payloads: Payload[]) => codec.decode(payloads)],
      ] as const) {
        scope.options(path, preflight);
        // Authorized by the hook above, not by the API-key scopes: browsers send no bearer header.
        scope.post(path, { config: { scope: 'public' }, bodyLimit: CODEC_BODY_LIMIT }, async (request, reply) => {
          const parsed = payloadsBody.safeParse(request.body);
          if (!parsed.success) {
            return reply.code(400).send({ error: 'invalid_request', message: 'send {"payloads": [{"metadata": {…}, "data": "<base64>"}]}', problems: problemsOf(parsed.error) });
          }
          let converted: Payload[];
          try {
            converted = await convert(parsed.data.payloads.map(fromJson));
          } catch (err) {
            // The codec's messages name key ids and PAYLOAD_KEYS, never key material.
            return reply.code(422).send({ error: 'codec_failed', message: (err as Error).message });
          }
          return reply.send({ payloads: converted.map(toJson) });
        });
      }
    },
    { prefix: '/codec' },
  );
  const { verifier } = options;
  if (verifier) app.register(async (scope) => registerSession(scope, verifier), { prefix: '/codec' });
}

const SESSION_COOKIE = 'journeys_codec';

/**
 * Who may read decoded payloads. While no API key exists: callers on this machine. Then: an
 * admin key, as a bearer header (the `temporal` CLI's `--codec-auth`) or as the session cookie
 * `/codec/session` sets, which the Web UI's pages send when told to include credentials.
 */
export function codecAuthorizer(verifier: ApiKeyVerifier) {
  return async (request: FastifyRequest): Promise<boolean> => {
    if (!(await verifier.keysExist())) return fromLoopback(request);
    const presented = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? cookieOf(request, SESSION_COOKIE);
    if (!presented) return false;
    const result = await verifier.verify(presented);
    return 'key' in result && scopeAllows(result.key.scope, 'admin');
  };
}

/**
 * `GET /codec/session` asks for an admin key; `POST /codec/session` checks it and keeps it in
 * an HttpOnly cookie limited to /codec, so the Web UI in the same browser can decode. The UI and
 * the API must be the same site (scheme and registrable domain) for the browser to send it.
 */
function registerSession(scope: FastifyInstance, verifier: ApiKeyVerifier): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const page = (message: string) =>
    `<!doctype html><meta charset="utf-8"><title>journeys codec</title><p>${message}</p>` +
    '<form method="post"><label>Admin API key <input type="password" name="key" autocomplete="off"></label> <button>Open</button></form>';
  scope.get('/session', { config: { scope: 'public' } }, async (_request, reply) =>
    reply.type('text/html').send(page('The Temporal Web UI shows decoded payloads to holders of an admin key.')),
  );
  scope.post<{ Body: { key?: string } | undefined }>('/session', { config: { scope: 'public' } }, async (request, reply) => {
    const key = request.body?.key ?? '';
    const result = await verifier.verify(key);
    if (!('key' in result) || !scopeAllows(result.key.scope, 'admin')) {
      return reply.code(401).type('text/html').send(page('That is not an admin API key.'));
    }
    const secure = request.protocol === 'https' ? '; Secure' : '';
    reply.header('set-cookie', `${SESSION_COOKIE}=${encodeURIComponent(key)}; Path=/codec; HttpOnly; SameSite=Strict; Max-Age=43200${secure}`);
    return reply.type('text/html').send(page(`Decoding for this browser for 12 hours, as key ${result.key.name}. Reload the Web UI.`));
  });
}

export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

function fromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: metadata && Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, new Uint8Array(Buffer.from(value, 'base64'))])),
    data: data == null ? undefined : new Uint8Array(Buffer.from(data, 'base64')),
  };
}

function toJson({ metadata, data }: Payload): { metadata?: Record<string, string>; data?: string } {
  return {
    ...(metadata && { metadata: Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, Buffer.from(value).toString('base64')])) }),
    ...(data && { data: Buffer.from(data).toString('base64') }),
  };
}
