import { type ExecutionResult, GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { createErrorMapper } from '../../src/server/errors.js';
import { useHostileOperations } from '../../src/server/hostile-operations.js';
import { SharedEventExecution } from '../../src/server/shared-execution.js';
import { FrameWriter } from '../../src/server/ws-frames.js';
import { connectedPair, receivedAll, type SocketPair } from '../support/ws-pair.js';

/**
 * Errors in the per-event execution of a shared stream: each subscriber's result with errors
 * comes out as the plugins' hooks make it (mapped to the contract and logged with the request's
 * own logger; no "Did you mean"), never changing the result its group shares, while events are
 * executed once for the group. yoga's own masking, which runs last, would hide the first but not
 * the other two.
 */
const SECRET = 'connection string postgres://admin:hunter2@db';
const EVENTS = [1, 2, 3].map((n) => ({ ticks: { n } }));

function server() {
  const lines: Record<string, unknown>[] = [];
  const rootLog = createLogger('error', {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  const log = rootLog.child({ requestId: 'request-1' });
  const errors = createErrorMapper(rootLog);
  const execution = new SharedEventExecution();
  let subscribed = 0;
  let go: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    go = resolve;
  });
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: /* GraphQL */ `
        type Query { ok: Boolean }
        type Tick { n: Int, boom: Int }
        type Subscription { ticks: Tick, failing: Tick }
      `,
      resolvers: {
        Subscription: {
          ticks: {
            subscribe: async function* () {
              if (++subscribed === 2) go();
              await started;
              // The same event objects for every subscriber, as the stream readers hand out.
              for (const event of EVENTS) yield event;
            },
          },
          failing: {
            subscribe: async function* () {
              yield { failing: { n: 1 } };
              throw new Error(SECRET);
            },
          },
        },
        Tick: {
          boom: (tick: { n: number }) => {
            if (tick.n === 2) throw new Error(SECRET);
            if (tick.n === 3) throw new GraphQLError('No tick "x". Did you mean "n"?');
            return tick.n * 10;
          },
        },
      },
    }),
    logging: false,
    maskedErrors: { maskError: (error) => errors.mapError(error) },
    context: () => ({ log, principal: { id: 'principal-1' } }),
    plugins: [
      errors.useContractErrors(),
      useHostileOperations({
        maxDepth: 10,
        maxAliases: 10,
        maxTokens: 1000,
        maxDirectives: 10,
        maxVariableDepth: 5,
        batchLimit: 0,
        hideSuggestions: true,
      }),
      execution.plugin(),
    ],
  });
  return { yoga, execution, lines };
}

async function subscribe(yoga: ReturnType<typeof server>['yoga']): Promise<unknown[]> {
  const response = await yoga.fetch('http://parley.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: 'subscription { ticks { n boom } }' }),
  });
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as unknown)
    .filter((payload) => Object.keys(payload as object).length > 0);
}

/** What every subscriber gets, whatever its transport. */
function expectMapped(events: unknown[]) {
  expect(events).toHaveLength(3);
  expect(events[0]).toEqual({ data: { ticks: { n: 1, boom: 10 } } });
  expect(events[2]).toMatchObject({
    data: { ticks: { n: 3, boom: null } },
    errors: [{ message: 'No tick "x".', path: ['ticks', 'boom'] }],
  });
  expect(events[1]).toMatchObject({
    data: { ticks: { n: 2, boom: null } },
    errors: [
      {
        message: 'Unexpected error.',
        path: ['ticks', 'boom'],
        extensions: { code: 'INTERNAL_SERVER_ERROR', errorId: expect.any(String) },
      },
    ],
  });
  expect(JSON.stringify(events)).not.toContain('hunter2');
}

/** Envelop's subscribe, as graphql-ws calls it: the wrapped results and the shared ones. */
async function subscribeEnveloped(
  yoga: ReturnType<typeof server>['yoga'],
  execution: SharedEventExecution,
  query: string,
) {
  const { schema, subscribe, contextFactory, parse } = yoga.getEnveloped({});
  const contextValue = await contextFactory();
  const results = (await subscribe({
    schema,
    document: parse(query),
    contextValue,
  })) as AsyncIterable<ExecutionResult>;
  return { results, direct: execution.directResults(contextValue) };
}

/**
 * Subscribes the way the graphql-ws server does (envelop's subscribe, then the frame writer with
 * the operation's shared results), and returns the payloads of the frames the socket received.
 */
async function subscribeWs(
  yoga: ReturnType<typeof server>['yoga'],
  execution: SharedEventExecution,
  writer: FrameWriter,
  pair: SocketPair,
): Promise<unknown[]> {
  const { results, direct } = await subscribeEnveloped(
    yoga,
    execution,
    'subscription { ticks { n boom } }',
  );
  expect(direct).toBeDefined();
  await writer.frames(results, 'op', pair.server, () => true, direct).next();
  await receivedAll(pair, EVENTS.length);
  return pair.received.map((frame) => (JSON.parse(frame) as { payload: unknown }).payload);
}

describe('errors in shared stream events', () => {
  it('reach every subscriber mapped to the contract, with the events executed once', async () => {
    const { yoga, execution, lines } = server();
    const [first, second] = await Promise.all([subscribe(yoga), subscribe(yoga)]);
    for (const events of [first, second]) expectMapped(events);
    expect(execution.counts).toEqual({ executed: 3, shared: 3 });
    // One line per subscriber's unexpected error, each with its request's id.
    const unexpected = lines.filter((line) => line.msg === 'unexpected error');
    expect(unexpected.map((line) => line.requestId)).toEqual(['request-1', 'request-1']);
  });

  it('go through the hooks on graphql-ws too, where results without errors are read past them', async () => {
    const { yoga, execution, lines } = server();
    const writer = new FrameWriter({ maxBufferedBytes: 1024 * 1024 });
    const pairs = [await connectedPair(), await connectedPair()];
    const [first, second] = await Promise.all(
      pairs.map((pair) => subscribeWs(yoga, execution, writer, pair)),
    );
    for (const events of [first, second]) expectMapped(events ?? []);
    expect(execution.counts).toEqual({ executed: 3, shared: 3 });
    // Only the event without errors skipped the hooks, once per subscriber.
    expect(writer.counts.direct).toBe(2);
    const unexpected = lines.filter((line) => line.msg === 'unexpected error');
    expect(unexpected.map((line) => line.requestId)).toEqual(['request-1', 'request-1']);
  });

  it('a stream that throws on graphql-ws ends with the error as the hooks map it', async () => {
    const { yoga, execution } = server();
    const writer = new FrameWriter({ maxBufferedBytes: 1024 * 1024 });
    const pair = await connectedPair();
    const { results, direct } = await subscribeEnveloped(
      yoga,
      execution,
      'subscription { failing { n } }',
    );
    const ended = writer.frames(results, 'op', pair.server, () => true, direct).next();
    const error = await ended.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    await receivedAll(pair, 1);
    expect(JSON.parse(pair.received[0] ?? '{}')).toEqual({
      id: 'op',
      type: 'next',
      payload: { data: { failing: { n: 1 } } },
    });
    expect(writer.counts.direct).toBe(1);
    expect(error).toBeInstanceOf(GraphQLError);
    expect((error as GraphQLError).message).toBe('Unexpected error.');
    expect((error as GraphQLError).extensions.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(error)).not.toContain('hunter2');
  });
});
