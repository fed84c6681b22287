// A typed client of the journeys private HTTP API (README "HTTP API"), for operators and for a
// shop's own code: the methods and answers of JourneyClient, over HTTP. It needs only the
// global fetch (Node 20+), never the store or Temporal.
import type { z } from 'zod';
import type { AuditEntry, suppressionInputSchema } from '../app/customerRecords';
import { EventIdConflictError, ValidationError, type Problem } from '../app/errors';
import type { BatchMode, BatchResult, IngestResult, JourneyClient, JourneyRunSummary } from '../app/journeyClient';
import type { SendResolution, sendResolutionSchema } from '../app/sends';
import type { CustomerSegment } from '../app/segmentTracker';
import type { JourneyReport } from '../app/reports/schema';
import type { ConsentChange, CustomerEventInput, Profile } from '../domain/customer/types';
import type { profileSchema } from '../domain/customer/schema';
import type { EventField, SendRecord, SendStatus } from '../store/types';

export interface JourneysHttpClientOptions {
  /** The API's base address, e.g. `https://journeys-admin.internal:3000` (a path prefix is kept). */
  url: string;
  /** An API key (`jk_…`, from `journeys keys create`), sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** How long one request may take, answer included; default 30 s. */
  timeoutMs?: number;
}

export type SuppressionInput = z.input<typeof suppressionInputSchema>;
export type SendResolutionInput = z.input<typeof sendResolutionSchema>;
export type ProfileInput = z.input<typeof profileSchema>;
export interface SendsQuery {
  status?: SendStatus;
  limit?: number;
}

/**
 * An answer of the API that has no local counterpart (refused key, no such route, a server
 * failure), or no answer at all (`status` undefined: unreachable, or too slow). Its message is
 * one line naming the API's address and, where it helps, JOURNEYS_URL or JOURNEYS_API_KEY; it
 * never holds the key.
 */
export class JourneysApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status; undefined when no answer came. */
    readonly status?: number,
    /** The API's `error` code, e.g. `unauthorized` or `batch_too_large`. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'JourneysApiError';
  }
}

type Answer<K extends keyof JourneyClient> = JourneyClient[K] extends (...args: never[]) => Promise<infer R> ? R : never;

interface ErrorBody {
  error?: unknown;
  message?: unknown;
  problems?: unknown;
  eventId?: unknown;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * JourneyClient's operator and ingest methods over the private HTTP API. A 400 with problems
 * throws the ValidationError a local call throws, a reused event id the EventIdConflictError;
 * everything else that fails throws a JourneysApiError.
 */
export class JourneysHttpClient {
  /** The base address requests go to, without a trailing slash. */
  readonly url: string;
  private readonly apiKey?: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: JourneysHttpClientOptions) {
    try {
      this.url = apiBaseUrl(options.url);
    } catch (err) {
      throw new TypeError(`the url ${(err as Error).message}`);
    }
    if (options.apiKey !== undefined && !/^[\x21-\x7e]+$/.test(options.apiKey)) {
      // Never quote it: it is a secret, and a wrong one is still almost right.
      throw new TypeError('apiKey is empty or holds spaces, line breaks or other characters no API key has');
    }
    this.apiKey = options.apiKey;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** POST /v1/events */
  ingest(event: CustomerEventInput): Promise<IngestResult> {
    return this.request('POST', '/v1/events', 'event', event);
  }

  /** POST /v1/events:batch?mode=… (at most 500 events; more get a JourneysApiError with code `batch_too_large`). */
  ingestBatch(input: { events: CustomerEventInput[] }, mode: BatchMode = 'live'): Promise<BatchResult> {
    return this.request('POST', `/v1/events:batch?mode=${encodeURIComponent(mode)}`, 'batch', input);
  }

  /**
   * POST /v1/profiles: attributes are merged into the stored profile. The API answers with the
   * customer id and what it did not keep (`dropped`, links LINK_HOSTS does not allow); the
   * attributes returned are the ones sent.
   */
  async upsertProfile(profile: ProfileInput): Promise<Profile & { dropped?: { path: string; reason: string }[] }> {
    const { dropped } = await this.request<{ customerId: string; dropped?: { path: string; reason: string }[] }>('POST', '/v1/profiles', 'profile', profile);
    return { customerId: profile.customerId, email: profile.email, attributes: profile.attributes ?? {}, ...(dropped && { dropped }) };
  }

  /** POST /v1/consent */
  changeConsent(change: ConsentChange): Promise<Answer<'changeConsent'>> {
    return this.request('POST', '/v1/consent', 'consent change', change);
  }

  /** GET /v1/customers/:customerId/runs */
  async runsOf(customerId: string): Promise<JourneyRunSummary[]> {
    return (await this.request<{ runs: JourneyRunSummary[] }>('GET', `${customerPath(customerId)}/runs`, 'customer id')).runs;
  }

  /**
   * POST /v1/suppressions. `customers` (who has the address) comes only from an API that
   * says it; one that keeps that mapping of addresses to customers to itself leaves it out.
   */
  suppress(input: SuppressionInput): Promise<{ suppressed: boolean; customers?: string[] }> {
    return this.request('POST', '/v1/suppressions', 'suppression', input);
  }

  /** GET /v1/customers/:customerId/audit */
  /** GET /v1/customers/:customerId/segments. */
  async segmentsOf(customerId: string): Promise<CustomerSegment[]> {
    return (await this.request<{ segments: CustomerSegment[] }>('GET', `${customerPath(customerId)}/segments`, 'customer id')).segments;
  }

  async audit(customerId: string): Promise<AuditEntry[]> {
    return (await this.request<{ entries: AuditEntry[] }>('GET', `${customerPath(customerId)}/audit`, 'customer id')).entries;
  }

  /** DELETE /v1/customers/:customerId: erasure, which cannot be undone. */
  erase(customerId: string): Promise<Answer<'erase'>> {
    return this.request('DELETE', customerPath(customerId), 'customer id');
  }

  /** GET /v1/sends?status=…&limit=… (default: in_doubt, 100) */
  async sends(query: SendsQuery = {}): Promise<SendRecord[]> {
    const params = new URLSearchParams(Object.entries(query).flatMap(([name, value]): [string, string][] => (value === undefined ? [] : [[name, String(value)]])));
    const search = params.toString() ? `?${params.toString()}` : '';
    return (await this.request<{ sends: SendRecord[] }>('GET', `/v1/sends${search}`, 'sends query')).sends;
  }

  /** POST /v1/sends/resolve */
  resolveSend(input: SendResolutionInput): Promise<SendResolution> {
    return this.request('POST', '/v1/sends/resolve', 'send resolution', input);
  }

  /** GET /v1/journeys/:journeyId/report?since=…&until=… */
  journeyReport(journeyId: string, query: { since?: string; until?: string } = {}): Promise<JourneyReport> {
    const params = new URLSearchParams(Object.entries(query).flatMap(([name, value]): [string, string][] => (value === undefined ? [] : [[name, value]])));
    const search = params.toString() ? `?${params.toString()}` : '';
    return this.request('GET', `/v1/journeys/${encodeURIComponent(journeyId)}/report${search}`, 'report query');
  }

  /** One request; `what` names the input in a ValidationError, as the local call would. */
  private async request<T>(method: string, path: string, what: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    // Only with a body: the API answers an empty JSON body with 400.
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw this.unanswered(err);
    }
    let answer: unknown;
    try {
      answer = text === '' ? undefined : JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (answer === undefined || (response.ok && typeof answer !== 'object')) {
      const type = response.headers.get('content-type') ?? 'no content type';
      throw new JourneysApiError(
        `the server at ${this.url} (JOURNEYS_URL) answered ${method} ${path} with ${response.status} and ${text === '' ? 'no body' : type}, not the JSON of the journeys HTTP API: ${response.status >= 500 ? 'the API may be down behind a proxy, or JOURNEYS_URL is not its address' : 'is JOURNEYS_URL its address?'}`,
        response.status,
      );
    }
    if (response.ok) return answer as T;
    throw this.refusal(method, path, what, response.status, (answer ?? {}) as ErrorBody);
  }

  /** The error for a 4xx or 5xx answer: the local error where one exists. */
  private refusal(method: string, path: string, what: string, status: number, body: ErrorBody): Error {
    const code = typeof body.error === 'string' ? body.error : undefined;
    const said = this.redact(typeof body.message === 'string' ? body.message.split('\n')[0] : '');
    const problems = problemsIn(body.problems);
    if (status === 400 && problems) return new ValidationError(whatOf(said, what), problems.map((p) => ({ path: p.path, message: this.redact(p.message) })));
    if (status === 409 && code === 'event_id_conflict' && typeof body.eventId === 'string') {
      const conflict = new EventIdConflictError(body.eventId, differingFields(said));
      if (said) conflict.message = said;
      return conflict;
    }
    const answered = `${status}${code ? ` ${code}` : ''}${said ? `: ${said}` : ''}`;
    if (status === 401) {
      const advice = this.apiKey
        ? 'JOURNEYS_API_KEY holds no valid key of that deployment (journeys keys list, on its store, shows them)'
        : 'set JOURNEYS_API_KEY to an API key of that deployment (journeys keys create --name NAME --scope admin, on its store)';
      return new JourneysApiError(`the journeys HTTP API at ${this.url} refused the request (${answered}): ${advice}`, status, code);
    }
    if (status === 403 && code === 'forbidden') {
      const advice = this.apiKey ? 'the key in JOURNEYS_API_KEY lacks the scope this needs (an admin key may do everything)' : 'set JOURNEYS_API_KEY to an API key of that deployment';
      return new JourneysApiError(`the journeys HTTP API at ${this.url} refused ${method} ${path} (${answered}): ${advice}`, status, code);
    }
    if (status === 404 && code === 'not_found') {
      return new JourneysApiError(`the server at ${this.url} has no route ${method} ${path} (404): is JOURNEYS_URL the address of the journeys HTTP API, and is that API up to date?`, status, code);
    }
    const failed = status >= 500 ? 'failed' : 'refused the request';
    return new JourneysApiError(`the journeys HTTP API at ${this.url} ${failed} (${method} ${path}: ${answered})`, status, code);
  }

  /** The error for a request that got no answer: refused, unknown host, too slow. */
  private unanswered(err: unknown): JourneysApiError {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return new JourneysApiError(
        `the journeys HTTP API at ${this.url} (JOURNEYS_URL) did not answer within ${this.timeoutMs / 1000} s; it may still have done what was asked, and asking again is safe for events (same id) and consent`,
      );
    }
    const reason = reasonOf(err);
    // fetch's own refusal of ports that belong to other protocols (SMTP, IRC, …).
    const said = reason === 'bad port' ? `fetch refuses port ${new URL(this.url).port} (a port of another protocol): give the API another port` : this.redact(reason);
    return new JourneysApiError(`cannot reach the journeys HTTP API at ${this.url} (JOURNEYS_URL): ${said}`);
  }

  /** Takes the key, and its secret part, out of anything the server or the network said. */
  private redact(text: string): string {
    if (!this.apiKey) return text;
    const secret = /^jk_[0-9a-f]+_(.{8,})$/.exec(this.apiKey)?.[1];
    let safe = text.split(this.apiKey).join('[JOURNEYS_API_KEY]');
    if (secret) safe = safe.split(secret).join('[secret]');
    return safe;
  }
}

/**
 * The base address of the API from what a user wrote: an absolute http(s) URL without user,
 * password, query or fragment; a trailing slash is dropped. Throws a TypeError whose message
 * continues the name of the setting ("… is not a URL"), never quoting a password.
 */
export function apiBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`is not a URL ("${text}")`);
  }
  if (url.username || url.password) throw new TypeError('holds a user or password: an API key goes in JOURNEYS_API_KEY, never in the URL');
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`does not start with http:// or https:// ("${text}")`);
  if (url.search || url.hash) throw new TypeError(`has a query or fragment ("${text}"): give the scheme, host, port and any path prefix only`);
  return url.toString().replace(/\/+$/, '');
}

function customerPath(customerId: string): string {
  // An empty segment would name another route; every other value is the API's to judge.
  if (customerId === '') throw new ValidationError('customer id', [{ path: 'customerId', message: 'a customer id is required' }]);
  return `/v1/customers/${encodeURIComponent(customerId)}`;
}

function problemsIn(value: unknown): Problem[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const problems = value.filter((p): p is Problem => typeof p === 'object' && p !== null && typeof p.path === 'string' && typeof p.message === 'string');
  return problems.length === value.length ? problems : undefined;
}

/** The API's message is the local error's, "invalid <what>: …"; the call's own name for its input otherwise. */
function whatOf(message: string, fallback: string): string {
  if (message.startsWith(`invalid ${fallback}:`)) return fallback;
  return /^invalid ([^:]+): /.exec(message)?.[1] ?? fallback;
}

/** The fields a conflict message names ("… with different type and properties: …"). */
function differingFields(message: string): EventField[] {
  const named = /with different (.+?): /.exec(message)?.[1]?.split(' and ') ?? [];
  return named.filter((field): field is EventField => ['customerId', 'type', 'properties', 'occurredAt'].includes(field));
}

/** What the network said, e.g. "connect ECONNREFUSED 10.0.0.5:3000" or "getaddrinfo ENOTFOUND journeys-admin.internal". */
function reasonOf(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    if (cause.message) return cause.message;
    const inner = cause instanceof AggregateError ? cause.errors.find((e): e is Error => e instanceof Error && e.message !== '') : undefined;
    if (inner) return inner.message;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return err instanceof Error ? err.message : String(err);
}
