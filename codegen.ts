import type { CodegenConfig } from '@graphql-codegen/cli';

/** Types the example operations against the checked-in schema: `npm run codegen`. */
const config: CodegenConfig = {
  schema: './schema.graphql',
  documents: 'examples/operations/**/*.graphql',
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    'examples/generated/': {
      preset: 'client',
      // getFragmentData rather than the React-flavoured default name useFragment.
      // persistedDocuments also writes persisted-documents.json (sha256 hash → document), the
      // manifest TRUSTED_DOCUMENTS reads; each document keeps its text and carries its hash.
      presetConfig: {
        fragmentMasking: { unmaskFunctionName: 'getFragmentData' },
        persistedDocuments: true,
      },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
    // Apollo Client needs the union and interface members to match fragments on them
    // (`... on MessageDelta`); production turns introspection off, so they come from here.
    'examples/generated/possible-types.ts': {
      plugins: ['fragment-matcher'],
      config: { apolloClientVersion: 3 },
    },
  },
};

export default config;
