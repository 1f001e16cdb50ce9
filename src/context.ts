import { randomUUID } from 'node:crypto';
import type { BucketState } from './infra/backend/ledger.js';
import type { Backend } from './infra/backend/types.js';
import type { Logger } from './infra/logger.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { Principal } from './model.js';
import type { Caller } from './services/chat/answers.js';
import type { Services } from './services/index.js';

export type { Loaders };

/**
 * Per operation: who asks (and from where), per-request loaders, the services, and a logger
 * carrying the request id. Made once per HTTP request, SSE stream or graphql-ws operation.
 */
export interface Context {
  principal: Principal;
  /** The caller's address as the server believes it (TRUSTED_PROXIES decides). */
  clientIp: string;
  loaders: Loaders;
  services: Services;
  log: Logger;
  requestId: string;
  /** Where the principal's limits are counted: its key name, or its address when anonymous. */
  ledgerKey: string;
  /** Set once the operation's cost was taken from the bucket (before any resolver runs). */
  operationCost?: OperationCost;
}

export interface OperationCost {
  requested: number;
  /** The bucket right after the debit. */
  state: BucketState;
}

export interface ContextParts {
  principal: Principal;
  clientIp: string;
  requestId: string | undefined;
  services: Services;
  backend: Backend;
  log: Logger;
}

/** A request id from the caller is kept only when it is short and plain; otherwise a new one. */
export function requestIdFrom(given: string | null | undefined): string {
  return given && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
}

export function createContext(parts: ContextParts): Context {
  const requestId = parts.requestId ?? randomUUID();
  return {
    principal: parts.principal,
    clientIp: parts.clientIp,
    loaders: createLoaders(parts.backend.store, parts.backend.streams, parts.principal),
    services: parts.services,
    log: lazyChild(parts.log, { requestId, principal: parts.principal.id }),
    requestId,
    ledgerKey: parts.principal.anonymous ? `ip:${parts.clientIp}` : `key:${parts.principal.id}`,
  };
}

/** The caller of a service that runs work on its behalf (an answer outlives its request). */
export function callerOf(context: Context): Caller {
  return { principal: context.principal, ledgerKey: context.ledgerKey, log: context.log };
}

/**
 * A child logger made on first use: most operations log nothing. (A getter would not do: envelop
 * copies the context onto yoga's with Object.assign, which reads it on every request.)
 */
function lazyChild(log: Logger, bindings: Record<string, string>): Logger {
  let child: Logger | undefined;
  const made = () => {
    child ??= log.child(bindings);
    return child;
  };
  return new Proxy(log, {
    get: (_target, property) => {
      const value: unknown = Reflect.get(made(), property);
      return typeof value === 'function' ? value.bind(made()) : value;
    },
  });
}
