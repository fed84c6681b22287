import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { problemsOf } from '../app/errors';

export interface CodecRoutesOptions {
  /** The codec of PAYLOAD_KEYS: what the worker and the client encrypt with. */
  codec: PayloadCodec;
  /** Web UI origins (`http://127.0.0.1:8233`) whose pages may call the endpoint; a request from any other origin gets 403. */
  allowedOrigins: string[];
  /** Whether the caller may read decoded payloads: they hold customer data. False: 401. Not asked for preflight requests. */
  authorize: (request: FastifyRequest) => boolean | Promise<boolean>;
}

/** Payloads as proto JSON, the codec server protocol's body: metadata values and data in base64. */
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64');
const payloadsBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() })),
});
type JsonPayload = z.infer<typeof payloadsBody>['payloads'][number];

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
        scope.post(path, async (request, reply) => {
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
}

/**
 * The default `authorize` until callers authenticate: a request straight from this machine's
 * loopback. Behind a proxy on the same host every request would come from loopback, so one
 * that a proxy forwarded (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) is refused.
 */
export function fromLoopback(request: FastifyRequest): boolean {
  const { headers } = request;
  if (headers.forwarded !== undefined || headers['x-forwarded-for'] !== undefined || headers['x-real-ip'] !== undefined) return false;
  const address = request.socket.remoteAddress ?? '';
  return address === '::1' || /^(::ffff:)?127\./.test(address);
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
