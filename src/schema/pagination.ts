import { PothosValidationError } from '@pothos/core';
import { BadInput } from '../errors.js';

export const MAX_PAGE_SIZE = 100;

interface PageArgs {
  first?: number | null;
  last?: number | null;
}

/** `first`/`last` must be 0..100; larger pages are refused rather than silently cut. */
export function assertPageSize(args: PageArgs): void {
  for (const name of ['first', 'last'] as const) {
    const value = args[name];
    if (value !== null && value !== undefined && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw new BadInput(`"${name}" must be between 0 and ${MAX_PAGE_SIZE}.`, { field: name });
    }
  }
}

/** Pothos reports bad cursors and argument mixes as validation errors: they are the caller's. */
export async function asUserInput<T>(resolve: () => Promise<T>): Promise<T> {
  try {
    return await resolve();
  } catch (error) {
    if (error instanceof PothosValidationError) throw new BadInput(error.message);
    throw error;
  }
}

/** Session list cursors: the list position, base64url so clients treat them as opaque. */
export const encodeKeyCursor = (key: number) => Buffer.from(`key:${key}`).toString('base64url');

export function decodeKeyCursor(cursor: string): number {
  const match = /^key:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new BadInput('"after" is not a cursor from this list.', { field: 'after' });
  return Number(match[1]);
}
