import { offsetToCursor, resolveOffsetConnection } from '@pothos/plugin-relay';
import { describe, expect, it } from 'vitest';
import { resolveOffsetPage } from '../../src/schema/pagination.js';

/** What a client can read of a connection: every field, cursors included. */
function asClientSees(connection: {
  edges: readonly ({ cursor: string; node: unknown } | null)[];
  totalCount?: number | null;
  pageInfo: {
    startCursor?: string | null;
    endCursor?: string | null;
    hasPreviousPage: boolean;
    hasNextPage: boolean;
  };
}) {
  return {
    edges: connection.edges.map((edge) => edge && { cursor: edge.cursor, node: edge.node }),
    totalCount: connection.totalCount,
    pageInfo: {
      startCursor: connection.pageInfo.startCursor,
      endCursor: connection.pageInfo.endCursor,
      hasPreviousPage: connection.pageInfo.hasPreviousPage,
      hasNextPage: connection.pageInfo.hasNextPage,
    },
  };
}

const ROWS = Array.from({ length: 12 }, (_unused, index) => `row-${index}`);
const load = async ({ offset, limit }: { offset: number; limit: number }) =>
  ROWS.slice(offset, offset + limit);

type Args = { first?: number; last?: number; after?: string; before?: string };
const cases: [string, Args, number | undefined][] = [
  ['no arguments', {}, undefined],
  ['first', { first: 5 }, undefined],
  ['first 0', { first: 0 }, undefined],
  ['first past the end', { first: 50 }, undefined],
  ['first after', { first: 4, after: offsetToCursor(3) }, undefined],
  ['after the last row', { first: 4, after: offsetToCursor(11) }, undefined],
  ['first before', { first: 10, before: offsetToCursor(6) }, undefined],
  ['last with the total', { last: 3 }, ROWS.length],
  ['last before', { last: 2, before: offsetToCursor(5) }, undefined],
  ['last larger than the page', { last: 30 }, ROWS.length],
];

describe('resolveOffsetPage', () => {
  it.each(cases)('answers as resolveOffsetConnection does: %s', async (_name, args, totalCount) => {
    const options = { args, defaultSize: 4, maxSize: 10, totalCount };
    const ours = await resolveOffsetPage(options, load);
    const pothos = await resolveOffsetConnection(options, load);
    expect(asClientSees(ours)).toEqual(asClientSees(pothos));
  });

  it('refuses what resolveOffsetConnection refuses, with the same error', async () => {
    for (const args of [{ last: 2 }, { first: -1 }, { after: 'not-a-cursor' }]) {
      const options = { args, defaultSize: 4, maxSize: 10 };
      const pothos = await resolveOffsetConnection(options, load).catch((error: Error) => error);
      const ours = await resolveOffsetPage(options, load).catch((error: Error) => error);
      expect(pothos).toBeInstanceOf(Error);
      expect(ours).toEqual(pothos);
    }
  });
});
