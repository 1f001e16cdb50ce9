import { useCallback, useEffect, useRef, useState } from 'react';
import { type CombinedError, useClient } from 'urql';
import { getFragmentData } from '../../generated/fragment-masking.js';
import {
  CancelMessageDocument,
  CreateSessionDocument,
  type MessageStatus,
  MessageStreamDocument,
  type MessageStreamSubscription,
  SendMessageDocument,
  SessionDocument,
  StreamDeltaFragmentDoc,
  StreamEndFragmentDoc,
} from '../../generated/graphql.js';
import { EMPTY_CHAT, loadChat, type SavedChat, saveChat } from './saved-chat.js';

export interface Turn {
  id: string;
  role: 'USER' | 'ASSISTANT' | 'SYSTEM';
  text: string;
  status: MessageStatus;
  error?: string;
}

/** urql resolves with an error rather than throwing; the page shows its first message. */
function dataOrThrow<Data>(result: { data?: Data; error?: CombinedError }): Data {
  if (result.error) throw new Error(result.error.graphQLErrors[0]?.message ?? result.error.message);
  if (!result.data) throw new Error('Parley answered without data.');
  return result.data;
}

/** The conversation, its streaming answer and the three things a user can do with it. */
export function useChat() {
  const client = useClient();
  // The ref is what event handlers read (always current); the state is what renders.
  const savedRef = useRef<SavedChat>(loadChat());
  const [saved, setSaved] = useState(savedRef.current);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The stream waits for the history, so the history cannot overwrite an answer it finished.
  const [historyLoaded, setHistoryLoaded] = useState(savedRef.current.sessionId === null);
  // Bumped to subscribe again (from the last cursor) when a stream ends before its answer does.
  const [attempt, setAttempt] = useState(0);

  const save = useCallback((next: SavedChat) => {
    savedRef.current = next;
    saveChat(next);
    setSaved(next);
  }, []);

  // After a reload: the session's messages, if the server still has the session.
  useEffect(() => {
    const { sessionId } = savedRef.current;
    if (!sessionId) return;
    client
      .query(SessionDocument, { id: sessionId }, { requestPolicy: 'network-only' })
      .toPromise()
      .then((result) => {
        const session = dataOrThrow(result).session;
        if (!session) return save(EMPTY_CHAT);
        setTurns(session.messages.edges.map(({ node }) => ({ ...node, text: node.content })));
      })
      .catch((failure: Error) => setError(failure.message))
      .finally(() => setHistoryLoaded(true));
  }, [client, save]);

  /** The answer is over: it becomes an ordinary turn and nothing is left to resume. */
  const finish = useCallback(
    (status: MessageStatus, error?: string) => {
      const { stream } = savedRef.current;
      if (!stream) return;
      const finished: Turn = {
        id: stream.messageId,
        role: 'ASSISTANT',
        text: stream.text,
        status,
        ...(error ? { error } : {}),
      };
      setTurns((all) => all.map((turn) => (turn.id === finished.id ? finished : turn)));
      save({ ...savedRef.current, stream: null });
    },
    [save],
  );

  const applyEvent = useCallback(
    (event: MessageStreamSubscription['messageStream']) => {
      const { stream } = savedRef.current;
      if (!stream) return;
      if (event.__typename === 'MessageDelta') {
        const delta = getFragmentData(StreamDeltaFragmentDoc, event);
        // A reconnecting socket subscribes again with its first `after`: skip what was shown.
        if (delta.seq <= stream.lastSeq) return;
        const text = stream.text + delta.text;
        save({
          ...savedRef.current,
          stream: { ...stream, text, cursor: delta.cursor, lastSeq: delta.seq },
        });
        return;
      }
      const { cursor, message } = getFragmentData(StreamEndFragmentDoc, event);
      if (message.status === 'STREAMING') {
        // That server is shutting down while another one generates: resume from here.
        save({ ...savedRef.current, stream: { ...stream, cursor } });
        setAttempt((count) => count + 1);
        return;
      }
      finish(message.status, message.error?.message);
    },
    [save, finish],
  );

  // Follows the active answer from its saved cursor: from the start, or resumed after a reload.
  const streamingId = saved.stream?.messageId;
  // biome-ignore lint/correctness/useExhaustiveDependencies: attempt re-subscribes on purpose
  useEffect(() => {
    if (!streamingId || !historyLoaded) return;
    const after = savedRef.current.stream?.cursor ?? null;
    const subscription = client
      .subscription(MessageStreamDocument, { messageId: streamingId, after })
      .subscribe(({ data, error, hasNext }) => {
        if (error?.graphQLErrors.length) {
          // Refused (the message is gone, or not ours): nothing to resume.
          finish('INTERRUPTED', error.graphQLErrors[0]!.message);
        } else if (error) {
          // The network: the saved cursor stays, a reload resumes from it.
          setError(error.message);
        } else if (data && hasNext) {
          // urql repeats the last result with hasNext false when the stream completes.
          applyEvent(data.messageStream);
        }
      });
    return () => subscription.unsubscribe();
  }, [client, streamingId, historyLoaded, attempt, applyEvent, finish]);

  const send = useCallback(
    async (question: string) => {
      setError(null);
      setBusy(true);
      try {
        let { sessionId } = savedRef.current;
        if (!sessionId) {
          const input = { title: question.slice(0, 60) };
          const created = await client.mutation(CreateSessionDocument, { input }).toPromise();
          sessionId = dataOrThrow(created).createSession.id;
          save({ sessionId, stream: null });
        }
        const sent = await client
          .mutation(SendMessageDocument, { input: { sessionId, content: question } })
          .toPromise();
        const { userMessage, assistantMessage } = dataOrThrow(sent).sendMessage;
        setTurns((all) => [
          ...all,
          { id: userMessage.id, role: 'USER', text: question, status: userMessage.status },
          { id: assistantMessage.id, role: 'ASSISTANT', text: '', status: assistantMessage.status },
        ]);
        const stream = { messageId: assistantMessage.id, cursor: null, lastSeq: -1, text: '' };
        save({ sessionId, stream });
      } catch (failure) {
        setError((failure as Error).message);
      } finally {
        setBusy(false);
      }
    },
    [client, save],
  );

  /** Asks Parley to stop the answer; its stream then ends with a CANCELLED MessageEnd. */
  const cancel = useCallback(async () => {
    const id = savedRef.current.stream?.messageId;
    if (!id) return;
    const result = await client.mutation(CancelMessageDocument, { id }).toPromise();
    if (result.error) setError(result.error.graphQLErrors[0]?.message ?? result.error.message);
  }, [client]);

  const startOver = useCallback(() => {
    save(EMPTY_CHAT);
    setTurns([]);
    setError(null);
  }, [save]);

  // The answer being streamed shows the saved text: the history's copy may be further along.
  const shown = turns.map((turn) =>
    turn.id === saved.stream?.messageId
      ? { ...turn, text: saved.stream.text, status: 'STREAMING' as const }
      : turn,
  );
  return { turns: shown, streaming: saved.stream !== null, busy, error, send, cancel, startOver };
}
