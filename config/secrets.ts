// Secrets the settings point at: the unsubscribe signing keys and the DKIM private key,
// read once at start from the data folder or the files the settings name.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type DKIM from 'nodemailer/lib/dkim';
import { parseKeyList, type UnsubscribeKey } from '../domain/delivery/unsubscribeTokens';
import type { Config } from './index';

const KEYS_FILE = 'unsubscribe-keys';

/**
 * The configured keys, or for the embedded default one generated on first start and kept
 * in `<dataDir>/unsubscribe-keys`, so links in sent emails keep working across restarts.
 */
export function loadUnsubscribeKeys(config: Pick<Config, 'unsubscribe' | 'dataDir'>): UnsubscribeKey[] {
  if (config.unsubscribe.keys.length > 0) return config.unsubscribe.keys;
  const file = join(config.dataDir, KEYS_FILE);
  mkdirSync(config.dataDir, { recursive: true });
  try {
    // `wx`: of two processes starting at once, one writes and both read the same key.
    writeFileSync(file, `local:${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const { keys, problems } = parseKeyList(readFileSync(file, 'utf8').split('\n').join(','));
  if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}; fix the file, or delete it to generate a new key (links in sent emails then stop working)`);
  return keys;
}

/**
 * Nodemailer's `dkim` transport option, or undefined when DKIM is not configured. The
 * signed headers name both List-Unsubscribe headers: RFC 8058 one-click only counts when
 * DKIM covers them, and nodemailer's default list leaves out List-Unsubscribe-Post.
 */
export function dkimOptions(config: Pick<Config, 'dkim'>): DKIM.SingleKeyOptions | undefined {
  if (!config.dkim) return undefined;
  const { domainName, keySelector, privateKeyFile } = config.dkim;
  let privateKey: string;
  try {
    privateKey = readFileSync(privateKeyFile, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the DKIM private key from ${privateKeyFile} (DKIM_PRIVATE_KEY_FILE): ${(err as Error).message}`);
  }
  return {
    domainName,
    keySelector,
    privateKey,
    headerFieldNames: 'From:To:Subject:Date:Message-ID:MIME-Version:Content-Type:List-Unsubscribe:List-Unsubscribe-Post',
  };
}
