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

describe('CostModel.actualCost through fragments, conditions and weighted leaves', () => {
  const schema = buildSchema();
  const SHAPES = parse(/* GraphQL */ `
    query Shapes($withPage: Boolean!, $skipTitle: Boolean!) {
      s: session(id: "ses_1") {
        ...SessionParts
        title @skip(if: $skipTitle)
        messages(first: 5) @include(if: $withPage) {
          edges { node { ... on Message { id } } }
          ... on MessageConnection { pageInfo { hasNextPage } }
        }
      }
      ragQuery(input: { query: "q" }) { answer degraded }
    }
    fragment SessionParts on Session { id recent: messages(first: 2) { edges { cursor } } }
  `);
  const data = {
    s: {
      id: 'ses_1',
      recent: { edges: [{ cursor: 'a' }, { cursor: 'b' }] },
      title: 't',
      messages: {
        edges: [{ node: { id: 'm1' } }, { node: { id: 'm2' } }, null],
        pageInfo: { hasNextPage: false },
      },
    },
    ragQuery: { answer: null, degraded: false },
  };
  const cost = (variables: Record<string, unknown>, result: unknown = data) =>
    model.actualCost({ schema, document: SHAPES, variables }, result);

  it('counts spread and inline fragments, a null list item its own weight, a null weighted leaf its weight', () => {
    // session 1; the fragment's connection 1 + 2 edges; the page's connection 1 + 3 edges
    // (one null) + 2 nodes + pageInfo 1; ragQuery 1 + answer 50 (null, still its weight).
    expect(cost({ withPage: true, skipTitle: false })).toBe(1 + 3 + 7 + 51);
  });

  it('decides @include and @skip per request on the same document', () => {
    expect(cost({ withPage: false, skipTitle: true })).toBe(1 + 3 + 51);
    expect(cost({ withPage: true, skipTitle: true })).toBe(1 + 3 + 7 + 51);
  });

  it('counts nothing for fields the result does not hold', () => {
    expect(cost({ withPage: true, skipTitle: false }, { s: null })).toBe(1);
    expect(cost({ withPage: true, skipTitle: false }, null)).toBe(0);
  });
});
