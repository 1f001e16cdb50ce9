import type { GraphiQLOptions } from 'graphql-yoga';

let page: Promise<string> | undefined;

/**
 * GraphiQL with its assets inlined (no CDN): it works offline and behind strict networks. The
 * bundle is large (~9 MB), so it is loaded on the first browser visit and the page kept.
 */
export function renderSelfHostedGraphiQL(options: GraphiQLOptions): Promise<string> {
  page ??= import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) =>
    renderGraphiQL(options),
  );
  return page;
}
