import { type GraphQLResolveInfo, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/resolvers/index.js';

/** The object types of the built schema that implement Node, with their `id` resolvers. */
function nodeIdResolvers() {
  const schema = buildSchema();
  return Object.values(schema.getTypeMap())
    .filter(isObjectType)
    .filter((type) => type.getInterfaces().some((face) => face.name === 'Node'))
    .map((type) => ({ name: type.name, resolve: type.getFields().id?.resolve }));
}

describe('node ids', () => {
  it('every Node type answers its id in step (no promise per object on a page)', () => {
    const nodes = nodeIdResolvers();
    expect(nodes.map((node) => node.name).sort()).toEqual(['Document', 'Message', 'Session']);
    for (const { name, resolve } of nodes) {
      expect(resolve, name).toBeTypeOf('function');
      const id = resolve?.({ id: 'msg_0123' }, {}, {}, {} as GraphQLResolveInfo);
      expect(id, name).toBe('msg_0123');
    }
  });
});
