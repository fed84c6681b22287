import type { Command } from 'commander';
import { createApiKey, listApiKeys, type ApiKeySummary } from '../../app/apiKeys';
import type { CliDeps } from '..';
import { UsageError } from '../usageError';
import { table } from './table';

/** `journeys keys`: the API keys of the private HTTP API, managed in the store; needs no Temporal. */
export function registerKeys(program: Command, deps: CliDeps): void {
  const out = (line: string) => deps.stdout.write(`${line}\n`);
  const withStore = async <T>(use: (store: Awaited<ReturnType<CliDeps['openStore']>>['store']) => Promise<T>): Promise<T> => {
    const { store, close } = await deps.openStore();
    try {
      return await use(store);
    } finally {
      await close();
    }
  };
  const keys = program.command('keys').description('API keys for the private HTTP API (/v1): create, list, revoke');

  keys
    .command('create')
    .description('create a key and print it once; only its hash is kept')
    .requiredOption('--name <name>', 'who or what uses it, e.g. shop-backend')
    .requiredOption('--scope <scope>', 'ingest (events, profiles, consent withdrawals), read (journey runs, audits, sends) or admin (everything)')
    .action(async (opts: { name: string; scope: string }) => {
      const { key, summary } = await withStore((store) => createApiKey(store, opts, new Date()));
      out(key);
      deps.stderr.write(`created API key ${summary.id} "${summary.name}" (scope ${summary.scope}); it is shown only now: keep it in a secret store\n`);
    });

  keys
    .command('list')
    .description('every key with its scope; revoked ones say when')
    .action(async () => {
      const list = await withStore((store) => listApiKeys(store));
      out(list.length ? keyTable(list) : 'no API keys: the private API serves loopback requests only (journeys keys create --name NAME --scope SCOPE)');
    });

  keys
    .command('revoke <idOrName>')
    .description('revoke a key by id or name; every API process refuses it within 5 seconds')
    .action(async (idOrName: string) => {
      const revoked = await withStore((store) => store.revokeApiKey(idOrName, new Date().toISOString()));
      if (!revoked) throw new UsageError(`no unrevoked API key has the id or name ${idOrName} (journeys keys list shows them)`);
      out(`revoked ${idOrName}`);
    });
}

function keyTable(keys: ApiKeySummary[]): string {
  return table([['ID', 'NAME', 'SCOPE', 'CREATED', 'REVOKED'], ...keys.map((k) => [k.id, k.name, k.scope, k.createdAt, k.revokedAt ?? '-'])]);
}
