import { expect, it } from 'vitest';
import { ApiKeyVerifier, createApiKey, listApiKeys } from '../app/apiKeys';
import { ValidationError } from '../app/errors';
import { describeStores } from './support/stores';

const now = new Date('2026-12-01T10:00:00Z');

describeStores('API keys', ({ open }) => {
  it('keeps only a hash: the key shown once verifies, its listing has no secret', async () => {
    const store = await open();
    expect(await store.hasActiveApiKeys()).toBe(false);
    const { key, summary } = await createApiKey(store, { name: 'shop-backend', scope: 'ingest' }, now);
    expect(key).toMatch(/^jk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(summary).toEqual({ id: key.slice(3, 19), name: 'shop-backend', scope: 'ingest', createdAt: now.toISOString() });
    expect(JSON.stringify(await store.apiKeys())).not.toContain(key.slice(20));
    expect(await listApiKeys(store)).toEqual([summary]);
    expect(await store.hasActiveApiKeys()).toBe(true);

    // Another process (another store instance) verifies it.
    const verifier = new ApiKeyVerifier(await open());
    expect(await verifier.verify(key)).toEqual({ key: summary });
    expect(await verifier.verify(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toEqual({ refused: 'unknown API key' });
    expect(await verifier.verify('Bearer nonsense')).toEqual({ refused: 'the key is not a journeys API key (jk_…)' });
  });

  it('revokes by name or id; a revoked key is refused once the cache expires, and its name stays taken', async () => {
    const store = await open();
    const ops = await createApiKey(store, { name: 'ops', scope: 'admin' }, now);
    const reader = await createApiKey(store, { name: 'dashboard', scope: 'read' }, now);
    let t = 0;
    const verifier = new ApiKeyVerifier(store, () => t);
    expect(await verifier.verify(ops.key)).toMatchObject({ key: { name: 'ops' } });

    expect(await store.revokeApiKey('ops', '2026-12-01T11:00:00.000Z')).toBe(true);
    expect(await store.revokeApiKey('ops', '2026-12-01T12:00:00.000Z')).toBe(false);
    expect(await store.revokeApiKey(reader.summary.id, '2026-12-01T11:00:00.000Z')).toBe(true);
    expect(await store.revokeApiKey('nobody', '2026-12-01T11:00:00.000Z')).toBe(false);
    t += 5_001;
    expect(await verifier.verify(ops.key)).toEqual({ refused: 'API key ops was revoked at 2026-12-01T11:00:00.000Z' });
    expect(await store.hasActiveApiKeys()).toBe(false);
    expect(await verifier.keysExist()).toBe(false);
    // A revoked key stays listed under its name, so the audit trail of a name stays unambiguous.
    await expect(createApiKey(store, { name: 'ops', scope: 'admin' }, now)).rejects.toThrow(ValidationError);
    await expect(createApiKey(store, { name: 'ops', scope: 'admin' }, now)).rejects.toThrow(/name: a key named ops exists \(revoked at 2026-12-01T11:00:00.000Z\)/);
  });

  it('refuses a bad name or scope, naming the field', async () => {
    const store = await open();
    await expect(createApiKey(store, { name: 'has space', scope: 'admin' }, now)).rejects.toThrow(/name: use 1 to 64 letters/);
    await expect(createApiKey(store, { name: 'x', scope: 'root' }, now)).rejects.toThrow(/scope: /);
    expect(await store.apiKeys()).toEqual([]);
  });
});
