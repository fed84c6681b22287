import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';

/**
 * Every email any test receives is also kept in one folder for the whole run, so a check
 * after the last test can hold every one of them to the rules all email must follow.
 */
export const SUITE_OUTBOX_ENV = 'JOURNEYS_SUITE_OUTBOX';

export function createSuiteOutbox(): string {
  return mkdtempSync(join(tmpdir(), 'journeys-suite-outbox-'));
}

/** A folder of its own for one mailbox of one test file, inside the suite's outbox. */
export function suiteOutboxFolder(): string | undefined {
  const root = process.env[SUITE_OUTBOX_ENV];
  if (!root) return undefined;
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, 'mailbox-'));
}

/** Copies a product outbox (the dev stack's) into the suite's outbox. */
export function keepInSuiteOutbox(folder: string) {
  const target = suiteOutboxFolder();
  if (!target || !existsSync(folder)) return;
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.eml'))) copyFileSync(join(folder, file), join(target, file));
}

/** Problems of every email in the suite's outbox that lacks the unsubscribe headers or link. */
export async function unsubscribeProblems(root: string): Promise<{ count: number; problems: string[] }> {
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.eml'));
  const problems: string[] = [];
  for (const file of files) {
    const mail = await simpleParser(readFileSync(join(root, file)));
    // The raw header lines: mailparser turns List-* headers into objects.
    const header = (name: string) => mail.headerLines.find((h) => h.key === name)?.line.replace(/^[^:]+:\s*/, '').replace(/\r?\n\s+/g, ' ') ?? '';
    const listUnsubscribe = header('list-unsubscribe');
    const post = header('list-unsubscribe-post');
    const link = /<a [^>]*href="https?:\/\/[^"]*\/u\/[^"]+"/.test(typeof mail.html === 'string' ? mail.html : '');
    const missing = [
      !/<https:\/\/[^>]+\/u\/[^>]+>|<http:\/\/[^>]+\/u\/[^>]+>/.test(listUnsubscribe) && 'List-Unsubscribe URL',
      !/<mailto:[^>]+>/.test(listUnsubscribe) && 'List-Unsubscribe mailto',
      post !== 'List-Unsubscribe=One-Click' && 'List-Unsubscribe-Post',
      !link && 'unsubscribe link in the body',
    ].filter(Boolean);
    if (missing.length) problems.push(`${file} (${mail.subject}): missing ${missing.join(', ')}`);
  }
  return { count: files.length, problems };
}

export function removeSuiteOutbox(root: string) {
  rmSync(root, { recursive: true, force: true });
}
