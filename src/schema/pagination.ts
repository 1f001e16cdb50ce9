import { PothosValidationError } from '@pothos/core';
import { offsetForArgs, offsetToCursor } from '@pothos/plugin-relay';
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

/** An edge whose cursor is encoded only when a client selects it (most pages never do). */
class OffsetEdge<T> {
  constructor(
    readonly node: T,
    private readonly offset: number,
  ) {}

  get cursor(): string {
    return offsetToCursor(this.offset);
  }
}

class OffsetPageInfo {
  constructor(
    readonly hasPreviousPage: boolean,
    readonly hasNextPage: boolean,
    private readonly first: number,
    private readonly last: number,
  ) {}

  get startCursor(): string {
    return offsetToCursor(this.first);
  }

  get endCursor(): string {
    return offsetToCursor(this.last);
  }
}

type OffsetOptions = Parameters<typeof offsetForArgs>[0];

/**
 * Pothos's `resolveOffsetConnection` with the same arguments, checks, cursors and page, but each
 * cursor encoded when read rather than all of them up front (Pothos encodes base64 by hand, a
 * string per character, for every edge of every page).
 */
export async function resolveOffsetPage<T>(
  options: OffsetOptions,
  resolve: (page: { offset: number; limit: number }) => Promise<readonly T[]>,
) {
  const { limit, offset, expectedSize, hasPreviousPage, hasNextPage } = offsetForArgs(options);
  const nodes = await resolve({ offset, limit });
  const count = Math.min(nodes.length, expectedSize);
  const edges: OffsetEdge<T>[] = new Array(count);
  for (let index = 0; index < count; index++) {
    edges[index] = new OffsetEdge(nodes[index]!, offset + index);
  }
  return {
    edges,
    totalCount: options.totalCount,
    pageInfo: new OffsetPageInfo(
      hasPreviousPage,
      hasNextPage(nodes.length),
      offset,
      offset + count - 1,
    ),
  };
}
