import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { wallClockMs } from './clock.js';
import { MESSAGE_STREAM_SUBSCRIPTION, WS_CONNECTION_PARAMS } from './parley-api.js';

/**
 * One graphql-ws client per socket, following streams on Parley (`messageStream`) or on the bare
 * baseline (`delta`, `relay`), with every event reduced to the same shape and checked for order.
 */
export type StreamSource =
  | { kind: 'parley'; messageId: string }
  | { kind: 'bare'; streamId: string }
  | { kind: 'relay'; id: string; prompt: string };

export interface SeenEvent {
  type: 'delta' | 'end';
  seq: number;
  text: string;
  /** The server's stamp (MessageDelta.at), ms since the epoch; NaN on ends. */
  atMs: number;
  /** Final message status (Parley's MessageEnd only). */
  status?: string;
}

export interface SocketClient {
  client: Client;
  /** Resolves once the server acknowledged connection_init. */
  connected: Promise<void>;
  /** The raw socket, for dropping it abruptly (as a vanished client would). */
  socket(): WebSocket | undefined;
}

export function connectClient(url: string): SocketClient {
  let current: WebSocket | undefined;
  // Remembers its socket so a test can cut the connection without a close handshake.
  class TrackedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      current = this;
    }
  }
  const client = createClient({
    url,
    webSocketImpl: TrackedWebSocket,
    connectionParams: WS_CONNECTION_PARAMS,
    lazy: false,
    retryAttempts: 0,
    keepAlive: 0,
    // Failures reach the subscriptions' sinks and `connected`; no console output on top.
    onNonLazyError: () => {},
  });
  const connected = new Promise<void>((resolve, reject) => {
    const offConnected = client.on('connected', () => {
      offConnected();
      offClosed();
      resolve();
    });
    const offClosed = client.on('closed', (event) => {
      offConnected();
      offClosed();
      reject(
        new Error(`socket closed before connection_ack: ${(event as { code?: number }).code}`),
      );
    });
  });
  return { client, connected, socket: () => current };
}

export interface StreamHandlers {
  /** Every event with its receipt time (wall-clock ms). */
  onEvent(event: SeenEvent, receivedAtMs: number): void;
  /** The stream ended (after its end event) or failed (with the reason). */
  onDone(failure?: string): void;
}

const BARE_SUBSCRIPTION = 'subscription($id: ID!) { delta(streamId: $id) { seq text at end } }';
const RELAY_SUBSCRIPTION =
  'subscription($id: ID!, $prompt: String!) { relay(id: $id, prompt: $prompt) { seq text at end } }';

interface ParleyEvent {
  __typename: 'MessageDelta' | 'MessageEnd';
  seq?: number;
  cursor: string;
  text?: string;
  at?: string;
  message?: { status: string };
}

interface BareEvent {
  seq: number;
  text: string;
  at: string;
  end: boolean;
}

function payloadOf(source: StreamSource) {
  if (source.kind === 'parley') {
    return { query: MESSAGE_STREAM_SUBSCRIPTION, variables: { id: source.messageId } };
  }
  if (source.kind === 'bare')
    return { query: BARE_SUBSCRIPTION, variables: { id: source.streamId } };
  return { query: RELAY_SUBSCRIPTION, variables: { id: source.id, prompt: source.prompt } };
}

function normalize(data: Record<string, unknown>): SeenEvent | undefined {
  const parley = data.messageStream as ParleyEvent | undefined;
  if (parley) {
    return parley.__typename === 'MessageDelta'
      ? {
          type: 'delta',
          seq: parley.seq ?? 0,
          text: parley.text ?? '',
          atMs: Date.parse(parley.at ?? ''),
        }
      : {
          type: 'end',
          seq: Number(parley.cursor),
          text: '',
          atMs: Number.NaN,
          status: parley.message?.status,
        };
  }
  const bare = (data.delta ?? data.relay) as BareEvent | undefined;
  if (!bare) return undefined;
  return bare.end
    ? { type: 'end', seq: bare.seq, text: '', atMs: Number.NaN, status: 'COMPLETED' }
    : { type: 'delta', seq: bare.seq, text: bare.text, atMs: Date.parse(bare.at) };
}

/** Subscribes; returns the unsubscribe function. The baseline never ends a stream itself. */
export function follow(client: Client, source: StreamSource, handlers: StreamHandlers): () => void {
  let done = false;
  const finish = (failure?: string) => {
    if (done) return;
    done = true;
    handlers.onDone(failure);
  };
  const unsubscribe = client.subscribe<Record<string, unknown>>(payloadOf(source), {
    next: (result) => {
      const receivedAt = wallClockMs();
      if (result.errors?.length)
        return finish(`errors: ${JSON.stringify(result.errors).slice(0, 200)}`);
      const event = result.data ? normalize(result.data) : undefined;
      if (!event) return finish('an event without data');
      handlers.onEvent(event, receivedAt);
      if (event.type === 'end') {
        if (source.kind !== 'parley') unsubscribe();
        finish();
      }
    },
    error: (error) => finish(`subscription error: ${describe(error)}`),
    complete: () => finish(done ? undefined : 'completed without an end event'),
  });
  return unsubscribe;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return JSON.stringify(error).slice(0, 200);
  const code = (error as { code?: number }).code;
  return code === undefined ? String(error) : `socket closed ${code}`;
}

/** Checks one stream as it arrives: seq 1, 2, 3 … without gap or repeat, then exactly one end. */
export class StreamCheck {
  lastSeq = 0;
  events = 0;
  deltas = 0;
  text = '';
  ended = false;
  status: string | undefined;
  problem: string | undefined;

  see(event: SeenEvent): void {
    this.events++;
    if (this.ended) this.problem ??= 'an event after the end';
    if (event.type === 'end') {
      this.ended = true;
      this.status = event.status;
      return;
    }
    if (event.seq !== this.lastSeq + 1) this.problem ??= `seq ${event.seq} after ${this.lastSeq}`;
    this.lastSeq = event.seq;
    this.deltas++;
    this.text += event.text;
  }

  /** Undefined when the stream was whole: ended COMPLETED with exactly the expected text. */
  verdict(expectedText: string): string | undefined {
    if (this.problem) return this.problem;
    if (!this.ended) return 'no end event';
    if (this.status !== 'COMPLETED') return `ended ${this.status}`;
    if (this.text !== expectedText)
      return `text differs (${this.text.length} of ${expectedText.length} chars)`;
    return undefined;
  }
}
