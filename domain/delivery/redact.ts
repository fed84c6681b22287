const ADDRESS = /[^\s<>()[\]"',;:]+@[^\s<>()[\]"',;:]+/g;

/**
 * SMTP replies often echo the recipient ("550 5.1.1 <bob@example.com>: no such user"). They
 * reach Temporal histories, logs and the suppression list, which must hold no address. Free
 * of Node built-ins, so the workflow bundle uses it too.
 */
export function redactAddresses(text: string): string {
  return text.replace(ADDRESS, '<address>');
}
