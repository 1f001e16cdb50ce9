import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CallMessage, ChildMessage, Methods } from './rpc.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));

export interface SpawnOptions {
  /** Shown in errors and forwarded output. */
  name: string;
  /** The child's entry, relative to bench/ (e.g. `targets/parley.ts`). */
  entry: string;
  /** Added to a minimal environment: the parent's own variables never leak into a child's config. */
  env?: Record<string, string>;
  /** Extra node flags (e.g. `--expose-gc`). */
  nodeFlags?: string[];
  /** Receives every stdout line (servers log JSON there); by default lines are dropped. */
  onStdoutLine?: (line: string) => void;
  /** Also receives every stderr line (which is always shown, prefixed). */
  onStderrLine?: (line: string) => void;
  readyTimeoutMs?: number;
}

type ParamsOf<F> = F extends (params: infer P) => unknown ? P : never;

export interface Child<M extends Methods> {
  readonly name: string;
  /** What the child announced when it became ready (its port, for servers). */
  readonly info: Record<string, unknown>;
  readonly process: ChildProcess;
  call<K extends keyof M & string>(
    method: K,
    params?: ParamsOf<M[K]>,
    timeoutMs?: number,
  ): Promise<Awaited<ReturnType<M[K]>>>;
  /** Asks the child to clean up and exit; kills it if it has not after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Every child still running, so an aborted run (budget overrun, Ctrl-C) leaves none behind. */
const running = new Set<ChildProcess>();

export function killAllChildren(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** The variables a Node child needs to run at all; everything else is given explicitly. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(
    keep.flatMap((name) => (process.env[name] ? [[name, process.env[name] as string]] : [])),
  );
}

export async function spawnChild<M extends Methods>(options: SpawnOptions): Promise<Child<M>> {
  const child = fork(`${BENCH_DIR}${options.entry}`, [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
    env: { ...baseEnv(), ...options.env },
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  forwardOutput(child, options);

  let nextId = 1;
  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  let exited = false;
  child.on('message', (message: ChildMessage) => {
    if (message.kind !== 'reply') return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(`${options.name}: ${message.error}`));
  });
  child.once('exit', (code, signal) => {
    exited = true;
    for (const waiter of pending.values()) {
      waiter.reject(new Error(`${options.name} exited (${signal ?? code}) during a call`));
    }
    pending.clear();
  });

  const info = await waitForReady(child, options);

  const call = <K extends keyof M & string>(
    method: K,
    params?: ParamsOf<M[K]>,
    timeoutMs = 120_000,
  ): Promise<Awaited<ReturnType<M[K]>>> => {
    if (exited) return Promise.reject(new Error(`${options.name} is not running`));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${options.name}.${method} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as Awaited<ReturnType<M[K]>>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const message: CallMessage = { kind: 'call', id, method, params };
      child.send(message);
    });
  };

  return {
    name: options.name,
    info,
    process: child,
    call,
    stop: async (timeoutMs = 15_000) => {
      if (exited) return;
      const gone = once(child, 'exit');
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await call('stop' as keyof M & string, undefined, timeoutMs).catch(() => {});
      await gone;
      clearTimeout(killer);
    },
  };
}

function waitForReady(
  child: ChildProcess,
  options: SpawnOptions,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${options.name} did not start within ${options.readyTimeoutMs ?? 30_000} ms`),
      );
    }, options.readyTimeoutMs ?? 30_000);
    const onMessage = (message: ChildMessage) => {
      if (message.kind !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message.info as Record<string, unknown>);
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with ${code} before it was ready`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Stdout goes to the caller's line handler; stderr is shown, prefixed, since it means trouble. */
function forwardOutput(child: ChildProcess, options: SpawnOptions): void {
  if (child.stdout) {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => options.onStdoutLine?.(line));
  }
  if (child.stderr) {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      options.onStderrLine?.(line);
      process.stderr.write(`  [${options.name}] ${line}\n`);
    });
  }
}
