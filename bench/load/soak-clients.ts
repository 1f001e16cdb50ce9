import { randomUUID } from 'node:crypto';
import { sleep } from '../harness/clock.js';
import { createAgent, postBody } from '../harness/graphql-http.js';
import {
  AUTH_HEADERS,
  createSession,
  deleteSession,
  SESSION_MESSAGES_QUERY,
  sendMessage,
} from '../harness/parley-api.js';
import { type AnswerShape, encodePrompt, expectedAnswer } from '../harness/prompt.js';
import { serve } from '../harness/rpc.js';
import { connectClient, follow, type SocketClient, StreamCheck } from '../harness/stream-client.js';

/**
 * Mixed load for the soak: conversations (each a session, a few turns followed to their end over
 * graphql-ws, then deleted), queries, and clients that connect, follow a live answer for a few
 * events and leave, half politely, half by dropping the socket. Every anomaly is an error.
 */
export interface SoakPlan {
  httpUrl: string;
  wsUrl: string;
  durationMs: number;
  /** Conversations running at once, each on its own socket. */
  streams: number;
  turnsPerSession: number;
  shape: Omit<AnswerShape, 'id' | 'hold'>;
  /** Sessions with history for the query workers (never deleted during the soak). */
  querySessionIds: string[];
  queryWorkers: number;
  queryPauseMs: number;
  churnWorkers: number;
  churnPauseMs: number;
}

export interface SoakResult {
  generations: number;
  deliveries: number;
  queries: number;
  connects: number;
  errors: number;
  errorsByReason: Record<string, number>;
}

class Tally {
  generations = 0;
  deliveries = 0;
  queries = 0;
  connects = 0;
  errors = 0;
  readonly errorsByReason: Record<string, number> = {};

  error(reason: string): void {
    this.errors++;
    const key = reason.slice(0, 120);
    this.errorsByReason[key] = (this.errorsByReason[key] ?? 0) + 1;
  }
}

/** Answers streaming right now, and how many churn clients are reading each. */
const live = new Map<string, number>();

function followToEnd(
  socket: SocketClient,
  messageId: string,
  timeoutMs: number,
): Promise<StreamCheck & { failure?: string }> {
  return new Promise((resolve) => {
    const check: StreamCheck & { failure?: string } = new StreamCheck();
    const timer = setTimeout(() => {
      check.failure ??= 'timed out';
      unsubscribe();
      resolve(check);
    }, timeoutMs);
    const unsubscribe = follow(
      socket.client,
      { kind: 'parley', messageId },
      {
        onEvent: (event) => check.see(event),
        onDone: (failure) => {
          clearTimeout(timer);
          check.failure = failure;
          resolve(check);
        },
      },
    );
  });
}

async function conversations(plan: SoakPlan, tally: Tally, deadline: number): Promise<void> {
  const agent = createAgent(plan.streams);
  const expected = expectedAnswer(plan.shape.tokens);
  /** One session's turns, followed to their ends, then the session deleted. */
  const session = async (socket: SocketClient) => {
    const sessionId = await createSession(agent, plan.httpUrl, 'soak');
    const answers: string[] = [];
    for (let turn = 0; turn < plan.turnsPerSession && Date.now() < deadline; turn++) {
      const prompt = encodePrompt({ ...plan.shape, id: randomUUID(), hold: false });
      const messageId = await sendMessage(agent, plan.httpUrl, sessionId, prompt);
      answers.push(messageId);
      live.set(messageId, 0);
      const check = await followToEnd(socket, messageId, 30_000);
      const problem = check.failure ?? check.verdict(expected);
      if (problem) tally.error(`stream: ${problem}`);
      tally.generations++;
      tally.deliveries += check.deltas;
    }
    // Churn clients may still be reading these answers; deleting under them is not the test.
    // A visit ends 2 s after its socket is acknowledged, but on a loaded machine getting there
    // took over 5 s (the bound this had): the session was deleted under a visit about to
    // subscribe, which then counted NOT_FOUND as an error.
    const leaseDeadline = Date.now() + 30_000;
    while (answers.some((id) => (live.get(id) ?? 0) > 0) && Date.now() < leaseDeadline) {
      await sleep(20);
    }
    for (const id of answers) live.delete(id);
    await deleteSession(agent, plan.httpUrl, sessionId);
  };
  /** A user on one socket, session after session; a failure is counted and the user goes on. */
  const conversation = async () => {
    const socket = connectClient(plan.wsUrl);
    try {
      await socket.connected;
      while (Date.now() < deadline) {
        await session(socket).catch((error: unknown) =>
          tally.error(`conversation: ${String(error)}`),
        );
      }
    } finally {
      await socket.client.dispose();
    }
  };
  await Promise.all(
    Array.from({ length: plan.streams }, () =>
      conversation().catch((error: unknown) => tally.error(`conversation: ${String(error)}`)),
    ),
  );
  agent.destroy();
}

async function queries(plan: SoakPlan, tally: Tally, deadline: number): Promise<void> {
  const agent = createAgent(plan.queryWorkers);
  const url = new URL(plan.httpUrl);
  const bodies = plan.querySessionIds.map((id) =>
    JSON.stringify({ query: SESSION_MESSAGES_QUERY, variables: { id } }),
  );
  const worker = async (offset: number) => {
    for (let index = offset; Date.now() < deadline; index++) {
      const response = await postBody(
        agent,
        url,
        bodies[index % bodies.length]!,
        AUTH_HEADERS,
      ).catch((error: unknown) => ({ status: 0, body: String(error) }));
      if (response.status !== 200 || response.body.includes('"errors"')) {
        tally.error(`query: ${response.status} ${response.body.slice(0, 80)}`);
      }
      tally.queries++;
      await sleep(plan.queryPauseMs);
    }
  };
  await Promise.all(Array.from({ length: plan.queryWorkers }, (_unused, index) => worker(index)));
  agent.destroy();
}

/** Connect, follow a live answer for a few events, leave; again and again. */
async function churn(plan: SoakPlan, tally: Tally, deadline: number): Promise<void> {
  const visit = async (abrupt: boolean) => {
    const candidates = [...live.keys()];
    const messageId = candidates[Math.floor(Math.random() * candidates.length)];
    if (!messageId) return;
    live.set(messageId, (live.get(messageId) ?? 0) + 1);
    const socket = connectClient(plan.wsUrl);
    let leaving = false;
    try {
      await socket.connected;
      tally.connects++;
      await new Promise<void>((resolve) => {
        let seen = 0;
        const timer = setTimeout(resolve, 2_000);
        follow(
          socket.client,
          { kind: 'parley', messageId },
          {
            onEvent: () => {
              if (++seen >= 3) resolve();
            },
            onDone: (failure) => {
              if (failure && !leaving) tally.error(`churn: ${failure}`);
              clearTimeout(timer);
              resolve();
            },
          },
        );
      });
    } catch (error) {
      tally.error(`churn connect: ${String(error)}`);
    } finally {
      leaving = true;
      if (abrupt) socket.socket()?.terminate();
      await socket.client.dispose();
      const leases = (live.get(messageId) ?? 1) - 1;
      if (live.has(messageId)) live.set(messageId, leases);
    }
  };
  const worker = async (offset: number) => {
    for (let visitIndex = offset; Date.now() < deadline; visitIndex++) {
      await visit(visitIndex % 2 === 0);
      await sleep(plan.churnPauseMs);
    }
  };
  await Promise.all(Array.from({ length: plan.churnWorkers }, (_unused, index) => worker(index)));
}

async function run(plan: SoakPlan): Promise<SoakResult> {
  const tally = new Tally();
  const deadline = Date.now() + plan.durationMs;
  await Promise.all([
    conversations(plan, tally, deadline),
    queries(plan, tally, deadline),
    churn(plan, tally, deadline),
  ]);
  return { ...tally, errorsByReason: tally.errorsByReason };
}

const methods = { run };
export type SoakMethods = typeof methods;
serve(methods);
