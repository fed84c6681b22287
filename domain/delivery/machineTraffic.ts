// Which pixel loads and link follows are machines rather than the recipient. Judged from the
// request alone (method, User-Agent) and the time since the send; pure, no I/O.
//
// Limits: a proxy or scanner that looks like a browser and waits longer than the scanner window
// passes for a person (Microsoft Defender's Safe Links often does). Apple's proxies are known by
// their bare user agent only, not by Apple's address ranges: behind the https proxy PUBLIC_URL
// names, the client address is the proxy's.
import { isbot } from 'isbot';

export interface TrackingRequest {
  method: string;
  userAgent?: string;
}

/**
 * Mailbox providers' image proxies, which load images for the recipient and cache them:
 * Gmail's "… (via ggpht.com GoogleImageProxy)", Yahoo's "YahooMailProxy; https://help.yahoo.com/…",
 * and others that call themselves an image proxy.
 */
const IMAGE_PROXY = /GoogleImageProxy|YahooMailProxy|ImageProxy/i;
/**
 * Apple Mail Privacy Protection loads every image of a new email through Apple's proxies,
 * opened or not, as exactly "Mozilla/5.0": no browser sends that alone.
 */
const BARE_MOZILLA = /^\s*Mozilla\/5\.0\s*$/;
/** Mail security gateways that follow links to check them, by the names their scanners give. */
const SCANNERS = /Barracuda|Mimecast|Proofpoint|URLDefense|SafeLinks|Symantec|MessageLabs|Trend ?Micro|Sophos|Forti(net|Guard)|Zscaler|IronPort|Forcepoint|Check ?Point|Bitdefender|Kaspersky|Avanan/i;

/** Not a person: no user agent, Apple's bare one, or a crawler, headless browser or HTTP library (isbot). */
function automated(userAgent: string | undefined): boolean {
  const ua = userAgent?.trim() ?? '';
  return ua === '' || BARE_MOZILLA.test(ua) || isbot(ua);
}

/** An open the recipient may not have made: an image proxy, Apple MPP, a bot, or a HEAD (which loads no image). */
export function isMachineOpen({ method, userAgent }: TrackingRequest): boolean {
  return method === 'HEAD' || automated(userAgent) || IMAGE_PROXY.test(userAgent ?? '');
}

/**
 * A click no person made: a HEAD (a scanner checking where the link leads), a bot or gateway
 * scanner by its user agent, or one within `scannerWindowMs` of the send, sooner than anyone
 * opens an email and reads to a link.
 */
export function isMachineClick({ method, userAgent, sinceSendMs, scannerWindowMs }: TrackingRequest & { sinceSendMs?: number; scannerWindowMs: number }): boolean {
  if (method === 'HEAD' || automated(userAgent) || SCANNERS.test(userAgent ?? '')) return true;
  return sinceSendMs !== undefined && sinceSendMs < scannerWindowMs;
}
