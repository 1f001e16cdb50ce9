import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The conventions' import rules, read from the code itself: `server → resolvers → schema`,
 * `resolvers → services → infra`, the schema never reaches into services or infra, services
 * never speak GraphQL, infra never knows the domain, and only config.ts reads process.env.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

type Layer = 'server' | 'resolvers' | 'schema' | 'services' | 'infra' | 'root' | 'app';

interface SourceFile {
  path: string;
  layer: Layer;
  text: string;
  imports: { specifier: string; target: string | undefined }[];
}

/** Layers a file of each layer must never import. */
const FORBIDDEN: Record<Layer, readonly Layer[]> = {
  app: [],
  server: ['app'],
  resolvers: ['server', 'infra', 'app'],
  schema: ['services', 'infra', 'resolvers', 'server', 'app'],
  services: ['schema', 'resolvers', 'server', 'app'],
  infra: ['services', 'schema', 'resolvers', 'server', 'app'],
  root: ['resolvers', 'server', 'app'],
};

/** Layers under the per-request context: from the root they see only the shared records. */
const BELOW_CONTEXT: readonly Layer[] = ['services', 'infra'];

/** The per-request composition may see services and infra; the shared records may see nothing. */
const ROOT_ALLOWED: Record<string, readonly Layer[]> = {
  'context.ts': ['services', 'infra', 'root'],
  'loaders.ts': ['services', 'infra', 'root'],
  'config.ts': [],
  'errors.ts': [],
  'model.ts': [],
};

/**
 * Packages that belong to the GraphQL edge: the domain below it never imports them
 * (graphql-redis-subscriptions is Redis pub/sub, whatever its name says).
 */
const GRAPHQL_PACKAGES =
  /^(graphql$|graphql\/|graphql-yoga|graphql-ws|graphql-sse|graphql-scalars|@pothos\/|@envelop\/|@graphql-)/;

function layerOf(path: string): Layer {
  const [top] = relative(SRC, path).split('/');
  if (top === 'app.ts' || top === 'main.ts') return 'app';
  if (top === 'server' || top === 'resolvers' || top === 'schema') return top;
  if (top === 'services' || top === 'infra') return top;
  return 'root';
}

function sourceFiles(directory = SRC): SourceFile[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    if (!entry.name.endsWith('.ts')) return [];
    const text = readFileSync(path, 'utf8');
    const specifiers = [
      ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/g),
      ...text.matchAll(/import\('([^']+)'\)/g),
    ].map((match) => match[1]!);
    return [
      {
        path,
        layer: layerOf(path),
        text,
        imports: specifiers.map((specifier) => ({
          specifier,
          target: specifier.startsWith('.')
            ? resolve(dirname(path), specifier).replace(/\.js$/, '.ts')
            : undefined,
        })),
      },
    ];
  });
}

const files = sourceFiles();
const name = (path: string) => relative(SRC, path);

describe('the architecture', () => {
  it('reads the whole tree', () => {
    expect(files.length).toBeGreaterThan(40);
    expect(files.some((file) => file.layer === 'schema')).toBe(true);
  });

  it('imports point one way: no file imports a layer above it or beside it across the rules', () => {
    const violations: string[] = [];
    for (const file of files) {
      const rootRule = file.layer === 'root' ? ROOT_ALLOWED[name(file.path)] : undefined;
      for (const { specifier, target } of file.imports) {
        if (!target) continue;
        const targetLayer = layerOf(target);
        const forbidden =
          rootRule !== undefined
            ? !rootRule.includes(targetLayer) && !isSharedRecord(target)
            : FORBIDDEN[file.layer].includes(targetLayer) ||
              (BELOW_CONTEXT.includes(file.layer) &&
                targetLayer === 'root' &&
                !isSharedRecord(target));
        if (forbidden) violations.push(`${name(file.path)} → ${specifier} (${targetLayer})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the domain and the outside world never speak GraphQL', () => {
    const violations = files
      .filter((file) => file.layer === 'services' || file.layer === 'infra')
      .flatMap((file) =>
        file.imports
          .filter(({ specifier }) => GRAPHQL_PACKAGES.test(specifier))
          .map(({ specifier }) => `${name(file.path)} → ${specifier}`),
      );
    expect(violations).toEqual([]);
  });

  it('nothing below config.ts reads process.env', () => {
    const readers = files
      .filter((file) => name(file.path) !== 'config.ts' && /process\.env\b/.test(file.text))
      .map((file) => name(file.path));
    expect(readers).toEqual([]);
  });
});

/** config, errors and model may be imported from anywhere, the records among themselves too. */
function isSharedRecord(target: string): boolean {
  return ['config.ts', 'errors.ts', 'model.ts'].includes(name(target));
}
