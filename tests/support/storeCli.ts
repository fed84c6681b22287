import { runCli, type CliDeps } from '../../cli';
import type { Store } from '../../store/types';
import { Captured } from './captured';

/** Runs `journeys <args>` on a store the test holds, for commands that need only the store: reaching for Temporal fails. */
export async function journeysOnStore(store: Store, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Captured();
  const stderr = new Captured();
  const deps: CliDeps = {
    connect: () => Promise.reject(new Error(`journeys ${args[0]} needs no Temporal`)),
    openStore: async () => ({ store, close: async () => undefined }),
    stdout,
    stderr,
  };
  const code = await runCli(args, deps);
  return { code, stdout: stdout.text, stderr: stderr.text };
}
