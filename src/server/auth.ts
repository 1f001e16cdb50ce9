import { createHash } from 'node:crypto';
import type { ApiKey, Scope } from '../config.js';
import { Forbidden, Unauthenticated } from '../errors.js';
import type { Principal } from '../model.js';

const ANONYMOUS_SCOPES: readonly Scope[] = ['chat', 'rag'];

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * API-key authentication. Keys are compared by their SHA-256 digest in a map, so lookup time
 * says nothing about how much of a wrong key matched.
 */
export class Authenticator {
  private readonly principalsByDigest: ReadonlyMap<string, Principal>;
  /** Keys already verified, so the digest runs once per key, not per request. Valid keys only. */
  private readonly verified = new Map<string, Principal>();

  constructor(apiKeys: readonly ApiKey[]) {
    this.principalsByDigest = new Map(
      apiKeys.map((apiKey) => [
        digest(apiKey.key),
        { id: apiKey.name, scopes: [...apiKey.scopes], anonymous: false },
      ]),
    );
  }

  /** Without configured keys (development only) every caller is the anonymous principal. */
  get anonymousMode(): boolean {
    return this.principalsByDigest.size === 0;
  }

  /** Missing credential: UNAUTHENTICATED (4401); unknown credential: FORBIDDEN (4403). */
  authenticate(credential: string | undefined): Principal {
    if (this.anonymousMode)
      return { id: 'anonymous', scopes: [...ANONYMOUS_SCOPES], anonymous: true };
    if (!credential) throw new Unauthenticated('An API key is required.');
    const known = this.verified.get(credential);
    if (known) return known;
    const principal = this.principalsByDigest.get(digest(credential));
    if (!principal) throw new Forbidden('The API key is not valid.');
    this.verified.set(credential, principal);
    return principal;
  }
}

/** `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function credentialFromHeaders(headers: Headers): string | undefined {
  const authorization = headers.get('authorization');
  if (authorization) return bearerToken(authorization);
  return headers.get('x-api-key')?.trim() || undefined;
}

/** graphql-ws `connection_init` payload: `{ authorization: "Bearer <key>" }` or `{ apiKey }`. */
export function credentialFromConnectionParams(
  params: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  if (typeof params?.authorization === 'string') return bearerToken(params.authorization);
  if (typeof params?.apiKey === 'string') return params.apiKey.trim() || undefined;
  return undefined;
}

function bearerToken(authorization: string): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1])
    throw new Unauthenticated('The Authorization header must be "Bearer <api-key>".');
  return match[1];
}
