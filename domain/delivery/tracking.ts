// Engagement tracking at send time: the open pixel and the rewritten links of a marketing
// email, and the signed tokens in their URLs. Pure: no I/O (the links are recorded by the
// send ledger's claim, see activities/sendStep.ts).
//
// Tokens: `<kid>.<base64url(JSON [workflowId, stepId] or [workflowId, stepId, linkIndex])>.<mac>`,
// where mac is the first 16 bytes of HMAC-SHA256, base64url, under a key derived from the
// signing key for tracking alone. They name the send (workflow and step, never an address) and
// carry no time, so a retried render signs the same tokens. The signing keys are the unsubscribe
// keys: both kinds of link sit in the same emails and must work as long as those stay in a
// mailbox, so they share one lifetime and one rotation; the derived key keeps either kind of
// token from ever verifying as the other.
import { createHmac } from 'node:crypto';
import { Parser } from 'htmlparser2';
import { z } from 'zod';
import { keyProblems, openSignedToken, type TokenRejection, type UnsubscribeKey } from './unsubscribeTokens';

/** One email of a journey: the send ledger's key. */
export interface TrackedSend {
  workflowId: string;
  stepId: string;
}

/** What a token names: the email (an open), or one of its links (a click). */
export interface TrackingTarget extends TrackedSend {
  linkIndex?: number;
}

export type VerifiedTrackingToken = ({ ok: true } & TrackingTarget) | { ok: false; reason: TokenRejection };

export interface TrackingSigner {
  sign(target: TrackingTarget): string;
  verify(token: string): VerifiedTrackingToken;
}

/** Links past this many in one email are left as they are: no real email has so many. */
export const MAX_TRACKED_LINKS = 200;
const PURPOSE = 'journeys: open pixel and click tokens';
// 128 bits: a forger's chance per guess is 2^-128, and the token stays short in an email's source.
const MAC_BYTES = 16;
const workflowId = z.string().min(1).max(400);
const stepId = z.string().min(1).max(100);
const payloadSchema = z.union([z.tuple([workflowId, stepId]), z.tuple([workflowId, stepId, z.number().int().min(0).max(MAX_TRACKED_LINKS - 1)])]);

/** The first key signs, every key verifies: the same keys and rotation as the unsubscribe links. */
export function createTrackingSigner(keys: UnsubscribeKey[]): TrackingSigner {
  const problems = keyProblems(keys);
  if (problems.length > 0) throw new Error(`tracking keys (UNSUBSCRIBE_KEYS): ${problems.join('; ')}`);
  const derive = (secret: string) => createHmac('sha256', secret).update(PURPOSE).digest();
  const derived = new Map(keys.map((key) => [key.id, derive(key.secret)]));
  const mac = (key: Buffer, signed: string) => createHmac('sha256', key).update(signed).digest().subarray(0, MAC_BYTES).toString('base64url');
  const signing = keys[0].id;
  const signingKey = derive(keys[0].secret);

  return {
    sign({ workflowId: w, stepId: s, linkIndex }) {
      const payload = Buffer.from(JSON.stringify(linkIndex === undefined ? [w, s] : [w, s, linkIndex])).toString('base64url');
      return `${signing}.${payload}.${mac(signingKey, `${signing}.${payload}`)}`;
    },

    verify(token) {
      const opened = openSignedToken(token, (kid, signed) => {
        const key = derived.get(kid);
        return key === undefined ? undefined : mac(key, signed);
      });
      if (!opened.ok) return opened;
      const parsed = payloadSchema.safeParse(opened.claims);
      if (!parsed.success) return { ok: false, reason: 'bad_payload' };
      const named = parsed.data;
      return { ok: true, workflowId: named[0], stepId: named[1], ...(named.length === 3 && { linkIndex: named[2] }) };
    },
  };
}

/** A marketing email as it goes out: the pixel added, its links pointing at the click redirect, and where each led. */
export interface TrackedHtml {
  html: string;
  /** The original URL of each rewritten link, by link index. */
  links: string[];
}

export interface EmailTracker {
  track(html: string, send: TrackedSend): TrackedHtml;
}

/**
 * Adds the open pixel (`<publicUrl>/o/<token>.gif`) and points every http(s) link at
 * `<publicUrl>/c/<token>`, except links to journeys' own pages (the unsubscribe link, whatever
 * else lies under `publicUrl`). The text part is left as it was rendered: a reader of plain text
 * sees where a link leads rather than an opaque redirect, and text parts carry no pixel either,
 * so their readers stay untracked as a whole.
 */
export function createEmailTracker(signer: TrackingSigner, publicUrl: string): EmailTracker {
  // As the URL parser writes it (a host in lower case), so the links found compare with it.
  const base = new URL(publicUrl).href.replace(/\/+$/, '');
  const ownPage = (url: URL) => url.href === base || url.href.startsWith(`${base}/`);
  return {
    track(html, send) {
      const linked = rewriteLinks(html, { keep: ownPage, href: (linkIndex) => `${base}/c/${signer.sign({ ...send, linkIndex })}` });
      return { html: withPixel(linked.html, `${base}/o/${signer.sign(send)}.gif`), links: linked.links };
    },
  };
}

/**
 * Rewrites the `href` of every `<a>` and `<area>` whose URL is http(s) (`mailto:`, `#` and the
 * like stay), unless `keep` says to leave it. Read with an HTML parser, so a link inside a
 * comment, a script or another attribute's value is no link; only the attribute itself is
 * replaced, the rest of the HTML stays byte for byte. Links are numbered in document order.
 */
export function rewriteLinks(html: string, rewrite: { keep(url: URL): boolean; href(linkIndex: number): string }): TrackedHtml {
  const edits: { start: number; end: number; text: string }[] = [];
  const links: string[] = [];
  let tag = '';
  let seenHref = false;
  const parser = new Parser({
    onopentagname(name) {
      tag = name;
      seenHref = false;
    },
    onattribute(name, value, quote) {
      if (name !== 'href' || (tag !== 'a' && tag !== 'area') || seenHref) return;
      // A browser follows the first href of a tag and ignores the rest.
      seenHref = true;
      const url = httpUrl(value);
      if (!url || quote === undefined || rewrite.keep(url) || links.length >= MAX_TRACKED_LINKS) return;
      const start = parser.startIndex;
      edits.push({ start, end: attributeEnd(html, start, quote), text: `href="${escapeAttribute(rewrite.href(links.length))}"` });
      links.push(url.href);
    },
  });
  parser.end(html);
  let out = '';
  let from = 0;
  for (const edit of edits) {
    out += html.slice(from, edit.start) + edit.text;
    from = edit.end;
  }
  return { html: out + html.slice(from), links };
}

/**
 * Where the attribute whose name starts at `start` ends (exclusive), read as the tokenizer read
 * it: the name, `=` (a name holds none), then a quoted value up to its closing quote, or an
 * unquoted one up to whitespace or `>`. The parser says where the name starts; where it reports
 * the end has changed between its versions, so that is found here.
 */
function attributeEnd(html: string, start: number, quote: string | null): number {
  let at = html.indexOf('=', start) + 1;
  while (/\s/.test(html[at])) at++;
  if (quote !== null) return html.indexOf(quote, at + 1) + 1;
  while (at < html.length && !/[\s>]/.test(html[at])) at++;
  return at;
}

/** The pixel goes last in the body, where it changes nothing a reader sees (or at the very end of a fragment). */
export function withPixel(html: string, src: string): string {
  const pixel = `<img src="${escapeAttribute(src)}" width="1" height="1" alt="">`;
  const at = html.toLowerCase().lastIndexOf('</body');
  return at < 0 ? html + pixel : html.slice(0, at) + pixel + html.slice(at);
}

/** The URL an http(s) href leads to, normalised (the redirect's Location must be ASCII), or undefined for any other href. */
function httpUrl(href: string): URL | undefined {
  if (!/^\s*https?:/i.test(href)) return undefined;
  try {
    return new URL(href);
  } catch {
    return undefined;
  }
}

function escapeAttribute(text: string): string {
  return text.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
