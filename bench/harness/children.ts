import { type ChildProcess, fork } from 'node:child_process';
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

/**
 * Every child still running, with the promise of its exit, so an aborted scenario (failure,
 * budget overrun) or run (Ctrl-C) leaves none behind.
 */
const running = new Map<ChildProcess, Promise<void>>();

/** SIGKILLs every child now, without waiting: for exit paths that cannot wait. */
export function killAllChildren(): void {
  for (const child of running.keys()) child.kill('SIGKILL');
}

/**
 * SIGKILLs every child still running and waits (at most `timeoutMs`) until they have exited;
 * resolves with how many there were.
 */
export async function stopAllChildren(timeoutMs = 10_000): Promise<number> {
  const exits = [...running.values()];
  killAllChildren();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(exits), late]);
  clearTimeout(timer);
  return exits.length;
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
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  running.set(child, exited);
  child.once('exit', () => running.delete(child));
  // Without a listener an 'error' event (a failed kill or spawn) would end the whole run.
  child.on('error', (error) => {
    process.stderr.write(`  [${options.name}] ${error.message}\n`);
  });
  forwardOutput(child, options);

  let nextId = 1;
  const pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  let hasExited = false;
  child.on('message', (message: ChildMessage) => {
    if (message.kind !== 'reply') return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(`${options.name}: ${message.error}`));
  });
  child.once('exit', (code, signal) => {
    hasExited = true;
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
    // A killed child's channel closes before its 'exit' arrives: check both.
    if (hasExited || !child.connected) {
      return Promise.reject(new Error(`${options.name} is not running`));
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${options.name}.${method} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (value: unknown) => {
          clearTimeout(timer);
          resolve(value as Awaited<ReturnType<M[K]>>);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      pending.set(id, waiter);
      const message: CallMessage = { kind: 'call', id, method, params };
      // With a callback a send on a closed channel fails this call instead of emitting 'error'.
      child.send(message, (error) => {
        if (!error) return;
        pending.delete(id);
        waiter.reject(new Error(`${options.name}.${method} could not be sent: ${error.message}`));
      });
    });
  };

  return {
    name: options.name,
    info,
    process: child,
    call,
    stop: async (timeoutMs = 15_000) => {
      if (hasExited) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      // A child that cannot be asked (channel closed, no answer) is killed at once.
      await call('stop' as keyof M & string, undefined, timeoutMs).catch(() =>
        child.kill('SIGKILL'),
      );
      await exited;
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
      child.off('error', onError);
      resolve(message.info as Record<string, unknown>);
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with ${code} before it was ready`));
    };
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} did not start: ${error.message}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
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
