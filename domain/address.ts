import { createHash } from 'node:crypto';

/** How an address is kept in the suppression list: never the address itself, so erasure leaves none behind. */
export function addressHash(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
}

const ADDRESS = /[^\s<>()[\]"',;:]+@[^\s<>()[\]"',;:]+\.[^\s<>()[\]"',;:]+/g;

/**
 * SMTP replies often echo the recipient ("550 5.1.1 <bob@example.com>: no such user"). They
 * reach Temporal histories, logs and the suppression list, which must hold no address.
 */
export function redactAddresses(text: string): string {
  return text.replace(ADDRESS, '<address>');
}
