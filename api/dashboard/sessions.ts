// Browser sessions of the dashboard. A page navigation carries no bearer header, so a reader
// signs in once with a read key; the browser keeps only a random session id in a cookie and
// the key stays in this process, checked again on every request like a bearer key would be
// (a revoked key ends its sessions within the verifier's cache time).
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { cookieOf } from '../codec';

export const DASHBOARD_COOKIE = 'journeys_dashboard';
/** A reader signs in again after this. */
export const SESSION_MS = 12 * 60 * 60 * 1000;
/** Sessions are per process and held in memory; the oldest go first beyond this many. */
const MAX_SESSIONS = 10_000;

export class DashboardSessions {
  private readonly sessions = new Map<string, { key: string; expiresAt: number }>();

  constructor(private readonly clock: () => number) {}

  /** A new session for a key already verified; returns its id, the cookie's value. */
  open(key: string): string {
    const now = this.clock();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { key, expiresAt: now + SESSION_MS });
    return id;
  }

  /**
   * The key behind the request's session cookie, for the API-key check. Only dashboard
   * reads count: a cookie is sent by the browser on its own, so it must never authorize a
   * write or a /v1 call a page of another site could make.
   */
  readonly keyOf = (request: FastifyRequest): string | undefined => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || !/^\/dashboard(\/|\?|$)/.test(request.url)) return undefined;
    const id = cookieOf(request, DASHBOARD_COOKIE);
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= this.clock()) {
      this.sessions.delete(id!);
      return undefined;
    }
    return session.key;
  };
}

/** The Set-Cookie value for a session: HttpOnly, SameSite=Strict, limited to /dashboard, Secure over https. */
export function sessionCookie(id: string, https: boolean): string {
  return `${DASHBOARD_COOKIE}=${id}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MS / 1000}${https ? '; Secure' : ''}`;
}
