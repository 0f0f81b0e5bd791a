// Optional bearer-token authentication, and the rule that keeps a server without one
// on the loopback interface.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

import { ArgumentRangeError } from '../errors';

/** Shorter tokens are guessable; the server refuses them. */
export const MIN_TOKEN_LENGTH = 16;

export function checkToken(token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH)
    throw new ArgumentRangeError(`--token (or SHEARS_SERVE_TOKEN): give at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 32\`), got ${token.length}`);
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]' || /^::ffff:127\./.test(host);
}

/** Without a token, only a loopback host: anyone who can reach the port could run jobs on the server's files. */
export function checkHost(host: string, token: string | undefined): void {
  if (token === undefined && !isLoopback(host))
    throw new ArgumentRangeError(
      `--host ${host}: without --token (or the SHEARS_SERVE_TOKEN environment variable) the server listens on a loopback address only (127.0.0.1, ::1, localhost)`,
    );
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether an Authorization header carries the token; compared in constant time (of equal-length digests). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}
