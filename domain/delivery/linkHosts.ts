// Which values that reach journeys from outside (event properties, profile attributes) may
// become links in an email: only http(s) links to the shop's own hosts (LINK_HOSTS). Ingest
// drops every other link, so an event cannot make an email point at a phishing page; the
// `safe_url` filter at render (./templates.ts) stays as the second line. Pure: no I/O.

/** A value that was not accepted, where it was and why. */
export interface DroppedValue {
  /** Its path in the input, e.g. "properties.cartUrl" or "properties.items.0.url". */
  path: string;
  reason: string;
}

/**
 * Schemes that make a link without `//` after the colon: the URL standard's special schemes
 * (a browser reads `https:evil.example` as `https://evil.example/`) and those that run code,
 * carry content or start another app. Any other `word:` is text ("Note: x", "urn:isbn:…")
 * unless `//` follows the colon.
 */
const LINK_SCHEMES = new Set(['http', 'https', 'ws', 'wss', 'ftp', 'file', 'javascript', 'vbscript', 'data', 'blob', 'mailto', 'tel', 'sms']);
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
/** `//host` and its backslash forms, which a browser resolves against the page: a link to another host. */
const SCHEME_RELATIVE = /^[\\/]{2}/;
const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/**
 * What a browser parses: tabs and newlines removed anywhere ("java\nscript:" is "javascript:"),
 * C0 controls and spaces trimmed at both ends.
 */
function asParsed(value: string): string {
  const text = value.replace(/[\t\n\r]/g, '');
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) <= 0x20) start++;
  while (end > start && text.charCodeAt(end - 1) <= 0x20) end--;
  return text.slice(start, end);
}

/** The host as compared: lower case, IDN as punycode (the URL parser does both), without a trailing dot. */
function comparable(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

function isIp(host: string): boolean {
  return IPV4.test(host) || IPV6.test(host);
}

/** Whether `host` is one of `allowed` or a subdomain of one (IP addresses match exactly). */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = comparable(host);
  return allowed.some((name) => h === name || (!isIp(name) && h.endsWith(`.${name}`)));
}

/**
 * Why a string value may not be kept, or undefined when it is no link or an allowed one.
 *
 * A value is a link when, read as a browser reads a URL (tabs and newlines removed, spaces and
 * control characters trimmed), it starts with `//` (or `\\`), with `scheme://`, or with one of
 * the link schemes followed by `:` (http, https, ws, wss, ftp, file, javascript, vbscript,
 * data, blob, mailto, tel, sms). A link is kept only if its scheme is https or http, it parses
 * as a URL, and its host is in `allowed` or a subdomain of one of them.
 */
export function linkProblem(value: string, allowed: readonly string[]): string | undefined {
  const text = asParsed(value);
  if (SCHEME_RELATIVE.test(text)) return 'a link without a scheme (//host…) is not allowed: write https://';
  const match = SCHEME.exec(text);
  if (!match) return undefined;
  const scheme = match[1].toLowerCase();
  const rest = text.slice(match[0].length);
  if (!LINK_SCHEMES.has(scheme) && !rest.startsWith('//')) return undefined;
  if (scheme !== 'https' && scheme !== 'http') return `${scheme}: links are not allowed (only https and http)`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a valid URL';
  }
  const host = comparable(url.hostname);
  if (!hostAllowed(host, allowed)) return `host ${host} is not in LINK_HOSTS`;
  // https://shop.example.com@evil… is caught above; user info before an allowed host is no shop link either.
  if (url.username !== '' || url.password !== '') return 'a link with user info (…@ before the host) is not allowed';
  return undefined;
}

/**
 * A copy of `value` without the string values `linkProblem` refuses, at any depth (objects and
 * arrays; a refused array element is removed), with each drop's path under `path` and reason.
 */
export function withoutForeignLinks<T>(value: T, allowed: readonly string[], path: string): { kept: T; dropped: DroppedValue[] } {
  const dropped: DroppedValue[] = [];
  const DROP = Symbol('drop');
  const walk = (inner: unknown, at: string): unknown => {
    if (typeof inner === 'string') {
      const reason = linkProblem(inner, allowed);
      if (reason === undefined) return inner;
      dropped.push({ path: at, reason });
      return DROP;
    }
    if (Array.isArray(inner)) return inner.map((item, index) => walk(item, `${at}.${index}`)).filter((item) => item !== DROP);
    if (inner !== null && typeof inner === 'object') {
      // fromEntries defines own properties, so a "__proto__" key from JSON stays a key.
      const entries: [string, unknown][] = [];
      for (const [key, item] of Object.entries(inner)) {
        const kept = walk(item, `${at}.${key}`);
        if (kept !== DROP) entries.push([key, kept]);
      }
      return Object.fromEntries(entries);
    }
    return inner;
  };
  const kept = walk(value, path);
  return { kept: (kept === DROP ? undefined : kept) as T, dropped };
}

/**
 * One LINK_HOSTS entry as compared, or why it is none. A name allows itself and its subdomains,
 * so no wildcard is needed; an IP address allows itself only.
 */
export function parseLinkHost(entry: string): { host: string; problem?: undefined } | { host?: undefined; problem: string } {
  const text = entry.trim();
  const quoted = JSON.stringify(text);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const bare = text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split(/[/?#:]/)[0];
    return { problem: `${quoted} has a scheme: write the host name alone, e.g. "${bare}"` };
  }
  if (text.includes('*')) {
    return { problem: `${quoted} has a wildcard: a name already allows its subdomains, so write "${text.replace(/^(\*\.)+/, '')}"` };
  }
  if (/[/?#]/.test(text)) return { problem: `${quoted} has a path: write the host name alone, e.g. "${text.split(/[/?#]/)[0]}"` };
  if (text.includes('@')) return { problem: `${quoted} has user info: write the host name alone` };
  if (/\s/.test(text)) return { problem: `${quoted} has a space: separate host names with commas` };
  if (!text.startsWith('[') && (text.match(/:/g) ?? []).length > 1) return { problem: `${quoted} looks like an IPv6 address: write it in brackets, e.g. "[${text}]"` };
  if (/:\d*$/.test(text) && !IPV6.test(text)) return { problem: `${quoted} has a port: links are allowed by host on any port, so write the host name alone` };
  let host: string;
  try {
    host = comparable(new URL(`https://${text}/`).hostname);
  } catch {
    return { problem: `${quoted} is not a host name` };
  }
  if (isIp(host)) return { host };
  const labels = host.split('.');
  if (!labels.every((label) => LABEL.test(label))) return { problem: `${quoted} is not a host name` };
  if (labels.length === 1 && host !== 'localhost') {
    return { problem: `${quoted} is a single label and would allow every host under it: name the shop's own domain, e.g. "shop.example.com"` };
  }
  return { host };
}

/** The hosts of a LINK_HOSTS value ("shop.example.com, cdn.example.net"), deduplicated, or every problem. */
export function parseLinkHosts(text: string): { hosts: string[]; problems: string[] } {
  const hosts: string[] = [];
  const problems: string[] = [];
  for (const entry of text.split(',')) {
    if (entry.trim() === '') continue;
    const parsed = parseLinkHost(entry);
    if (parsed.problem !== undefined) problems.push(parsed.problem);
    else if (!hosts.includes(parsed.host)) hosts.push(parsed.host);
  }
  if (hosts.length === 0 && problems.length === 0) problems.push('name at least one host, e.g. "shop.example.com"');
  return { hosts, problems };
}

/** The domain of a From address: "Journeys demo <hello@shop.example.com>" → "shop.example.com"; undefined if it has none. */
export function mailDomainOf(from: string): string | undefined {
  const address = /<([^<>]*)>\s*$/.exec(from)?.[1] ?? from.trim();
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  return parseLinkHost(address.slice(at + 1)).host;
}

/** LINK_HOSTS when unset: the host customers reach journeys on (PUBLIC_URL's) and the domain the email comes from. */
export function defaultLinkHosts(publicUrl: string, mailFrom: string): string[] {
  let publicHost: string | undefined;
  try {
    publicHost = comparable(new URL(publicUrl).hostname);
  } catch {
    publicHost = undefined;
  }
  return [...new Set([publicHost, mailDomainOf(mailFrom)].filter((host): host is string => host !== undefined && host !== ''))];
}
