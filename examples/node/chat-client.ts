import { getFragmentData } from '../generated/fragment-masking.js';
import {
  type MessageStatus,
  type MessageStreamSubscription,
  StreamDeltaFragmentDoc,
  type StreamDeltaFragment as StreamDeltaFragmentType,
  StreamEndFragmentDoc,
  type StreamEndFragment as StreamEndFragmentType,
} from '../generated/graphql.js';

export type StreamDelta = StreamDeltaFragmentType;
export type StreamEnd = StreamEndFragmentType;

/** Where Parley listens and who calls it (the key only when the server has API_KEYS). */
export interface ParleyEndpoints {
  httpUrl: string;
  wsUrl: string;
  apiKey?: string;
}

/** The endpoints of the Parley at `url` (http, https, ws or wss; its path is ignored). */
export function parleyEndpoints(url: string, apiKey?: string): ParleyEndpoints {
  const { protocol, host } = new URL(url);
  const secure = protocol === 'https:' || protocol === 'wss:';
  return {
    httpUrl: `${secure ? 'https' : 'http'}://${host}/graphql`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${host}/graphql`,
    ...(apiKey ? { apiKey } : {}),
  };
}

export interface StreamOptions {
  /** Resume: only events after this cursor are sent. */
  after?: string;
  /** Called with each delta as it arrives. */
  onDelta?: (delta: StreamDelta) => void;
  /** Stops listening (the answer goes on on the server): resolves with what arrived so far. */
  signal?: AbortSignal;
}

export interface StreamedAnswer {
  /** Every delta, in arrival order. */
  deltas: StreamDelta[];
  /** Every MessageEnd received: the contract promises exactly one per stream. */
  ends: StreamEnd[];
}

/** The chat flow, the same whichever GraphQL client carries it (apollo.ts, urql.ts). */
export interface ChatClient {
  createSession(title: string): Promise<string>;
  /** Returns the assistant message's id; its answer streams on the server. */
  sendMessage(sessionId: string, content: string): Promise<string>;
  /** Follows messageStream until the server completes it (after the MessageEnd). */
  streamAnswer(messageId: string, options?: StreamOptions): Promise<StreamedAnswer>;
  cancelMessage(messageId: string): Promise<MessageStatus>;
  close(): Promise<void>;
}

/** The text of an answer as its deltas spelled it. */
export function answerText(answer: StreamedAnswer): string {
  return answer.deltas.map((delta) => delta.text).join('');
}

/** Sorts one messageStream event into the answer, unmasking its fragment. */
export function collectEvent(
  answer: StreamedAnswer,
  event: MessageStreamSubscription['messageStream'],
  onDelta?: (delta: StreamDelta) => void,
): void {
  if (event.__typename === 'MessageDelta') {
    const delta = getFragmentData(StreamDeltaFragmentDoc, event);
    answer.deltas.push(delta);
    onDelta?.(delta);
  } else {
    answer.ends.push(getFragmentData(StreamEndFragmentDoc, event));
  }
}

/** A stream that completed without its MessageEnd broke the contract: say so. */
export function finishedAnswer(answer: StreamedAnswer): StreamedAnswer {
  if (answer.ends.length === 0) throw new Error('The stream completed without a MessageEnd.');
  return answer;
}
