import type { Client } from 'graphql-ws';
import { expect } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import type { GraphQLErrorShape, GraphQLResponse } from './client.js';

export const WAIT_MS = 10_000;

/** Every error carries one of the contract codes; returns them in order (at least one). */
export function codesOf(
  response: { errors?: readonly GraphQLErrorShape[] } | readonly GraphQLErrorShape[] | undefined,
): string[] {
  const errors = Array.isArray(response)
    ? response
    : ((response as { errors?: readonly GraphQLErrorShape[] } | undefined)?.errors ?? []);
  const codes = errors.map((error) => error.extensions?.code);
  expect(codes.length).toBeGreaterThan(0);
  for (const code of codes) expect(ERROR_CODES).toContain(code);
  return codes as string[];
}

/** Fails with what was awaited when `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs one operation over graphql-ws and returns its last result (errors included); an `error`
 * message resolves as a result carrying those errors, a closed socket rejects.
 */
export function wsExecute<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T>> {
  return withTimeout(
    new Promise<GraphQLResponse<T>>((resolve, reject) => {
      let last: GraphQLResponse<T> = { status: 0, headers: new Headers() };
      client.subscribe<T>(
        { query, variables },
        {
          next: (result) => {
            last = { ...last, ...(result as object) } as GraphQLResponse<T>;
          },
          error: (error) =>
            Array.isArray(error)
              ? resolve({ ...last, errors: error as GraphQLErrorShape[] })
              : reject(error),
          complete: () => resolve(last),
        },
      );
    }),
    'the WebSocket answer',
  );
}
