import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { customerId, topicSchema } from '../customer/schema';

// Unsubscribe tokens: `<kid>.<base64url(JSON {c, t, iat})>.<base64url(HMAC-SHA256(kid + "." + payload))>`.
// They name a customer ID and a topic, never an address, so a forwarded or logged link
// leaks nothing but an ID. The key ID is signed with the payload, so a token cannot be
// moved to another key. Tokens do not expire: RFC 8058 links must keep working for as long
// as the email sits in a mailbox; retiring a key (dropping it from the list) is the revocation.

/** A signing key: `id` goes into every token it signs, `secret` never leaves the server. */
export interface UnsubscribeKey {
  id: string;
  secret: string;
}

export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
export const MIN_SECRET_LENGTH = 32;

export interface UnsubscribeTarget {
  customerId: string;
  topic: string;
}

/** Why a token was refused, for logs and for choosing between 400 and 403; users see a short sentence. */
export type TokenRejection = 'malformed' | 'unknown_key' | 'bad_signature' | 'bad_payload';

export type VerifiedToken = ({ ok: true } & UnsubscribeTarget) | { ok: false; reason: TokenRejection };

export interface UnsubscribeSigner {
  sign(target: UnsubscribeTarget): string;
  verify(token: string): VerifiedToken;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const payloadSchema = z.object({ c: customerId, t: topicSchema, iat: z.number().int().nonnegative() });

/** Checks keys the way settings do, so a key built in code fails as clearly as one read from the environment. */
export function keyProblems(keys: UnsubscribeKey[]): string[] {
  const problems: string[] = [];
  if (keys.length === 0) problems.push('give at least one key');
  const seen = new Set<string>();
  for (const key of keys) {
    if (!KEY_ID.test(key.id)) problems.push(`key id "${key.id}": use 1 to 32 letters, digits, "_" or "-"`);
    if (key.secret.length < MIN_SECRET_LENGTH) problems.push(`key "${key.id}": the secret has ${key.secret.length} characters, use at least ${MIN_SECRET_LENGTH}`);
    if (seen.has(key.id)) problems.push(`key id "${key.id}" appears twice`);
    seen.add(key.id);
  }
  return problems;
}

/**
 * The first key signs; every key verifies. To rotate: put a new key first and keep the old
 * one after it until links in sent emails may go stale, then drop it.
 */
export function createUnsubscribeSigner(keys: UnsubscribeKey[], now: () => Date = () => new Date()): UnsubscribeSigner {
  const problems = keyProblems(keys);
  if (problems.length > 0) throw new Error(`unsubscribe keys: ${problems.join('; ')}`);
  const byId = new Map(keys.map((key) => [key.id, key.secret]));
  const mac = (secret: string, signed: string) => createHmac('sha256', secret).update(signed).digest('base64url');

  return {
    sign(target) {
      const c = customerId.parse(target.customerId);
      const t = topicSchema.parse(target.topic);
      const [{ id, secret }] = keys;
      const payload = Buffer.from(JSON.stringify({ c, t, iat: Math.floor(now().getTime() / 1000) })).toString('base64url');
      return `${id}.${payload}.${mac(secret, `${id}.${payload}`)}`;
    },

    verify(token) {
      const opened = openSignedToken(token, (kid, signed) => {
        const secret = byId.get(kid);
        return secret === undefined ? undefined : mac(secret, signed);
      });
      if (!opened.ok) return opened;
      const parsed = payloadSchema.safeParse(opened.claims);
      if (!parsed.success) return { ok: false, reason: 'bad_payload' };
      return { ok: true, customerId: parsed.data.c, topic: parsed.data.t };
    },
  };
}

/**
 * The claims of a `<kid>.<base64url(JSON)>.<mac>` token once its MAC checks out, or why it is
 * refused. `macOf` gives the MAC the key `kid` makes of the signed text (`kid.payload`), or
 * undefined for a key not held; tracking tokens (./tracking.ts) are opened the same way.
 */
export function openSignedToken(token: string, macOf: (kid: string, signed: string) => string | undefined): { ok: true; claims: unknown } | { ok: false; reason: TokenRejection } {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed' };
  const [kid, payload, signature] = parts;
  if (!KEY_ID.test(kid) || !B64URL.test(payload) || !B64URL.test(signature)) return { ok: false, reason: 'malformed' };
  const mac = macOf(kid, `${kid}.${payload}`);
  if (mac === undefined) return { ok: false, reason: 'unknown_key' };
  // Compared as the canonical base64url text, so no second spelling of a signature verifies.
  const expected = Buffer.from(mac);
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  // Only authenticated bytes are parsed; a payload that fails here was signed by a key holder with a bug.
  try {
    return { ok: true, claims: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) };
  } catch {
    return { ok: false, reason: 'bad_payload' };
  }
}

/** Where the unsubscribe page and the one-click endpoint live, for the link in the body. */
export function unsubscribeUrl(token: string, publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/u/${token}`;
}

/**
 * The RFC 8058 headers: the HTTPS link a mailbox provider POSTs `List-Unsubscribe=One-Click`
 * to, a mailto fallback (RFC 2369) for clients that only send mail, and the header that
 * announces one-click. Both must be covered by the DKIM signature for providers to use them.
 */
export function unsubscribeHeaders(token: string, { publicUrl, mailto }: { publicUrl: string; mailto: string }) {
  return {
    'List-Unsubscribe': `<${unsubscribeUrl(token, publicUrl)}>, <mailto:${mailto}?subject=unsubscribe%20${token}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
}

/**
 * Reads the `UNSUBSCRIBE_KEYS` setting, `kid:secret,kid2:secret2` (first signs, all verify).
 * Problems never quote a secret, since they end up in logs.
 */
export function parseKeyList(text: string): { keys: UnsubscribeKey[]; problems: string[] } {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  const keys: UnsubscribeKey[] = [];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) problems.push(`entry ${index + 1}: write each key as kid:secret, e.g. "k2025:<at least ${MIN_SECRET_LENGTH} random characters>"`);
    else keys.push({ id: entry.slice(0, colon), secret: entry.slice(colon + 1) });
  });
  return { keys, problems: [...problems, ...keyProblems(keys)] };
}

/** What the send step needs per email: the body link and both headers, from a fresh token for the customer and topic. */
export function unsubscribeLinks(signer: UnsubscribeSigner, settings: { publicUrl: string; mailto: string }) {
  return (customerId: string, topic: string) => {
    const token = signer.sign({ customerId, topic });
    return { url: unsubscribeUrl(token, settings.publicUrl), headers: unsubscribeHeaders(token, settings) };
  };
}
