// API keys: `jk_<id>_<secret>`. The id is public (it names the key in lists and logs); only a
// SHA-256 of the secret is stored. The secret is 256 random bits, so a plain hash is as strong
// as a slow one and costs nothing per request.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { ApiKey, ApiKeyScope, Store } from '../store/types';
import { parseInput, ValidationError } from './errors';

export const apiKeyScopeSchema = z.enum(['ingest', 'read', 'admin']);

export const apiKeyInputSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  scope: apiKeyScopeSchema,
});

const KEY_PATTERN = /^jk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** How long a key read from the store is trusted: a revocation reaches every API process within this. */
const KEY_CACHE_MS = 5_000;
/**
 * How long "no key exists" is trusted, so loopback-only mode does not read the store on every
 * request: a key created by another process (`journeys keys create`) closes loopback-only mode
 * within this; one created by this process closes it at once (see `keysCreatedHere`).
 */
const NO_KEY_CACHE_MS = 1_000;
/** Keys this process has created: a verifier's cached "no key exists" from before the latest is stale. */
let keysCreatedHere = 0;

/** The key as the store lists it, without its hash. */
export type ApiKeySummary = Omit<ApiKey, 'secretHash'>;

/** Creates a key and returns it whole: the only time it is ever shown. */
export async function createApiKey(store: Store, input: unknown, now: Date): Promise<{ key: string; summary: ApiKeySummary }> {
  const { name, scope } = parseInput(apiKeyInputSchema, input, 'API key');
  const taken = (await store.apiKeys()).find((key) => key.name === name);
  if (taken) {
    const state = taken.revokedAt ? `revoked at ${taken.revokedAt}` : 'in use';
    throw new ValidationError('API key', [{ path: 'name', message: `a key named ${name} exists (${state}): choose another name` }]);
  }
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record: ApiKey = { id, name, scope, secretHash: hashSecret(secret), createdAt: now.toISOString() };
  await store.createApiKey(record);
  keysCreatedHere++;
  return { key: `jk_${id}_${secret}`, summary: summaryOf(record) };
}

export async function listApiKeys(store: Store): Promise<ApiKeySummary[]> {
  return (await store.apiKeys()).map(summaryOf);
}

export function scopeAllows(granted: ApiKeyScope, needed: ApiKeyScope): boolean {
  return granted === 'admin' || granted === needed;
}

export type Authentication = { key: ApiKeySummary } | { refused: string };

/** Checks bearer keys against the store, caching what it read for a few seconds. */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, { key: ApiKey | undefined; until: number }>();
  private active?: { until: number };
  private none?: { until: number; keysCreatedHere: number };

  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Whether any unrevoked key exists; without one the private API serves loopback callers only. */
  async keysExist(): Promise<boolean> {
    const now = this.clock();
    if (this.active && this.active.until > now) return true;
    if (this.none && this.none.until > now && this.none.keysCreatedHere === keysCreatedHere) return false;
    const created = keysCreatedHere;
    const exist = await this.store.hasActiveApiKeys();
    this.active = exist ? { until: now + KEY_CACHE_MS } : undefined;
    this.none = exist ? undefined : { until: now + NO_KEY_CACHE_MS, keysCreatedHere: created };
    return exist;
  }

  async verify(presented: string): Promise<Authentication> {
    const match = KEY_PATTERN.exec(presented);
    if (!match) return { refused: 'the key is not a journeys API key (jk_…)' };
    const [, id, secret] = match;
    const key = await this.lookUp(id);
    if (!key || !sameHash(key.secretHash, hashSecret(secret))) return { refused: 'unknown API key' };
    if (key.revokedAt) return { refused: `API key ${key.name} was revoked at ${key.revokedAt}` };
    return { key: summaryOf(key) };
  }

  private async lookUp(id: string): Promise<ApiKey | undefined> {
    const now = this.clock();
    const cached = this.cache.get(id);
    if (cached && cached.until > now) return cached.key;
    const key = await this.store.apiKey(id);
    // Unknown ids are not cached: a flood of made-up ids must not grow the map.
    if (key) this.cache.set(id, { key, until: now + KEY_CACHE_MS });
    return key;
  }
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function summaryOf({ secretHash: _hash, ...summary }: ApiKey): ApiKeySummary {
  return summary;
}
