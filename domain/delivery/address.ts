import { createHash } from 'node:crypto';

/** How an address is kept in the suppression list: never the address itself, so erasure leaves none behind. */
export function addressHash(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
}

