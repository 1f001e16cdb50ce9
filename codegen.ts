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
      presetConfig: { fragmentMasking: { unmaskFunctionName: 'getFragmentData' } },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
};

export default config;
