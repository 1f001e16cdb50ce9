import {
  DirectiveLocation,
  GraphQLBoolean,
  GraphQLDirective,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
} from 'graphql';

/**
 * The cost directives' definitions, as the IBM GraphQL Cost Directives specification and Apollo
 * write them, so `schema.graphql` (and a gateway reading it) knows what `@cost` and `@listSize`
 * mean. The server computes its static cost from the same annotations.
 */
export const costDirective = new GraphQLDirective({
  name: 'cost',
  description: 'The weight of resolving this field, in cost points (replaces the default 1).',
  locations: [DirectiveLocation.FIELD_DEFINITION],
  args: { weight: { type: new GraphQLNonNull(GraphQLInt) } },
});

export const listSizeDirective = new GraphQLDirective({
  name: 'listSize',
  description:
    'How many items the list (or the sizedFields of this connection) holds: the slicing argument given, else assumedSize.',
  locations: [DirectiveLocation.FIELD_DEFINITION],
  args: {
    assumedSize: { type: GraphQLInt },
    slicingArguments: { type: new GraphQLList(new GraphQLNonNull(GraphQLString)) },
    sizedFields: { type: new GraphQLList(new GraphQLNonNull(GraphQLString)) },
    requireOneSlicingArgument: { type: GraphQLBoolean, defaultValue: true },
  },
});

/** The annotations of a paged connection: its edges are as many as the page asks. */
export const pagedConnection = (defaultPage: number, slicingArguments = ['first', 'last']) => ({
  listSize: {
    slicingArguments,
    sizedFields: ['edges'],
    assumedSize: defaultPage,
    requireOneSlicingArgument: false,
  },
});
