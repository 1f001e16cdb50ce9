import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphiQLOptions } from 'graphql-yoga';
import { type AssetSource, buildAssets, type StaticAsset, sendAsset } from './static-assets.js';

/**
 * GraphiQL served from this port, no CDN (it works offline and behind strict networks), as a
 * small page and separate, content-hashed, compressed assets: yoga's bundle (~9 MB: the app,
 * its CSS, three Monaco workers and the favicon) would otherwise be inlined in every page load.
 *
 * The assets are built (read and compressed) on the first visit, not at start: most processes
 * (production, tests) never show GraphiQL. They derive only from the installed package, so one
 * copy serves every app in the process.
 */
export const GRAPHIQL_ASSETS_PREFIX = '/graphiql/assets/';

interface GraphiQLAssets {
  byPath: Map<string, StaticAsset>;
  js: string;
  css: string;
  favicon: string;
  workers: { editorWorkerService: string; json: string; graphql: string };
}

let assets: Promise<GraphiQLAssets> | undefined;

function graphiqlAssets(): Promise<GraphiQLAssets> {
  assets ??= loadAssets().catch((error: unknown) => {
    assets = undefined;
    throw error;
  });
  return assets;
}

async function loadAssets(): Promise<GraphiQLAssets> {
  const bundle = await import('@graphql-yoga/render-graphiql/graphiql');
  const script = (name: string, body: string): AssetSource => ({
    name,
    extension: 'js',
    contentType: 'text/javascript; charset=utf-8',
    body: Buffer.from(body),
  });
  const built = await buildAssets(GRAPHIQL_ASSETS_PREFIX, [
    script('graphiql', bundle.js),
    script('editor-worker', bundle.editorWorkerService),
    script('json-worker', bundle.jsonWorker),
    script('graphql-worker', bundle.graphqlWorker),
    {
      name: 'graphiql',
      extension: 'css',
      contentType: 'text/css; charset=utf-8',
      body: Buffer.from(bundle.css),
    },
    {
      name: 'favicon',
      extension: 'ico',
      contentType: 'image/x-icon',
      body: Buffer.from(bundle.favicon.replace(/^data:[^,]*;base64,/, ''), 'base64'),
    },
  ]);
  const [js, editorWorker, jsonWorker, graphqlWorker, css, favicon] = built.map((a) => a.path);
  return {
    byPath: new Map(built.map((asset) => [asset.path, asset])),
    js: js!,
    css: css!,
    favicon: favicon!,
    workers: { editorWorkerService: editorWorker!, json: jsonWorker!, graphql: graphqlWorker! },
  };
}

/** yoga's `renderGraphiQL`: the page (a few KB) that loads the assets by their hashed URLs. */
export async function renderSelfHostedGraphiQL(options: GraphiQLOptions): Promise<string> {
  const { js, css, favicon, workers } = await graphiqlAssets();
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${favicon}" />
    <link rel="stylesheet" href="${css}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      const workers = ${scriptJson(workers)};
      self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
    </script>
    <script src="${js}"></script>
    <script>
      YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), ${scriptJson(options)});
    </script>
  </body>
</html>
`;
}

/**
 * Serves a GraphiQL asset; false when the path names none (the caller answers 404). Only
 * called while GraphiQL is on (introspection on): production never serves it.
 */
export async function sendGraphiQLAsset(
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<boolean> {
  const asset = (await graphiqlAssets()).byPath.get(path);
  if (!asset) return false;
  sendAsset(request, response, asset);
  return true;
}

/** JSON inside a <script>: `<` escaped, so no value can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value ?? {}).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
