import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { Redis } from 'ioredis';
import { REPO_ROOT } from './children.js';

/** The machine and package versions a result was measured on, for every results file. */

const PACKAGES = [
  'graphql',
  'graphql-yoga',
  '@pothos/core',
  '@pothos/plugin-relay',
  'graphql-ws',
  'ws',
  'ioredis',
  'graphql-redis-subscriptions',
  'graphql-subscriptions',
  'openai',
  'tsx',
] as const;

function versionOf(name: string): string {
  const path = name === 'parley' ? 'package.json' : `node_modules/${name}/package.json`;
  try {
    return (JSON.parse(readFileSync(`${REPO_ROOT}${path}`, 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

export function packageVersions(): Record<string, string> {
  return Object.fromEntries(['parley', ...PACKAGES].map((name) => [name, versionOf(name)]));
}

export function machine() {
  const processors = cpus();
  return {
    cores: processors.length,
    cpuModel: processors[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage1m: loadavg()[0],
  };
}

/** The Redis server's version, or undefined when it does not answer. */
export async function redisVersion(url: string): Promise<string | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}
