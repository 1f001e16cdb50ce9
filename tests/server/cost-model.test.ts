import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/resolvers/index.js';
import { CostModel } from '../../src/server/cost/cost-model.js';

const model = new CostModel({ defaultListSize: 10, maxSlice: { first: 100, last: 100 } });

const PAGE = parse(/* GraphQL */ `
  query Page($id: ID!) {
    session(id: $id) {
      title
      messages(first: 20) {
        edges { cursor node { id role content status createdAt alias: id } }
        pageInfo { hasNextPage }
      }
    }
  }
`);

const message = (id: string) => ({
  id,
  role: 'USER',
  content: 'hi',
  status: 'COMPLETED',
  createdAt: '2026-01-01T00:00:00.000Z',
  alias: id,
});

describe('CostModel.actualCost', () => {
  const request = { schema: buildSchema(), document: PAGE, variables: { id: 'ses_1' } };

  it('counts the objects a result holds and nothing for its plain leaves', () => {
    const data = {
      session: {
        title: 't',
        messages: {
          edges: [
            { cursor: 'c0', node: message('msg_0') },
            { cursor: 'c1', node: message('msg_1') },
          ],
          pageInfo: { hasNextPage: false },
        },
      },
    };
    // session 1 + connection 1 + 2 edges + 2 nodes + pageInfo 1.
    expect(model.actualCost(request, data)).toBe(7);
  });

  it('counts a null object its own weight only, and an empty page none of its items', () => {
    expect(model.actualCost(request, { session: null })).toBe(1);
    const empty = { session: { title: 't', messages: { edges: [], pageInfo: null } } };
    expect(model.actualCost(request, empty)).toBe(3);
  });

  it('stays below the static cost of the same document', () => {
    const requested = model.staticCost(request);
    expect(requested).toBeGreaterThan(7);
  });
});
