import { type FormEvent, type KeyboardEvent, useState } from 'react';
import type { MessageStatus } from '../../generated/graphql.js';
import { type Turn, useChat } from './use-chat.js';

const STATUS_LABELS: Record<MessageStatus, string> = {
  PENDING: 'Waiting for the model…',
  STREAMING: 'Answering…',
  COMPLETED: 'Answer complete',
  CANCELLED: 'Answer cancelled',
  FAILED: 'Answer failed',
  INTERRUPTED: 'Answer interrupted',
};

function TurnView({ turn }: { turn: Turn }) {
  const mine = turn.role === 'USER';
  return (
    <li className={mine ? 'turn question' : 'turn answer'} data-status={turn.status}>
      <p className="speaker">{mine ? 'You' : 'Parley'}</p>
      <p className="text">{turn.text}</p>
      {!mine && turn.status !== 'COMPLETED' && (
        <p className="status">
          {STATUS_LABELS[turn.status]}
          {turn.error ? `: ${turn.error}` : ''}
        </p>
      )}
    </li>
  );
}

export function App() {
  const { turns, streaming, busy, error, send, cancel, startOver } = useChat();
  const [question, setQuestion] = useState('');
  const lastAnswer = turns.findLast((turn) => turn.role === 'ASSISTANT');

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const content = question.trim();
    if (!content || busy || streaming) return;
    setQuestion('');
    void send(content);
  };
  // Enter sends, Shift+Enter starts a new line.
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey) submit(event);
  };

  return (
    <main>
      <header>
        <h1>Parley chat</h1>
        <button type="button" onClick={startOver} disabled={busy}>
          New chat
        </button>
      </header>
      {/* role=log is a polite live region: screen readers read the answer as it streams in. */}
      <ol className="conversation" role="log" aria-label="Conversation" aria-live="polite">
        {turns.map((turn) => (
          <TurnView key={turn.id} turn={turn} />
        ))}
      </ol>
      <p className="sr-only" role="status">
        {lastAnswer ? STATUS_LABELS[lastAnswer.status] : ''}
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <form onSubmit={submit}>
        <label htmlFor="question">Your question</label>
        <textarea
          id="question"
          rows={3}
          value={question}
          onChange={(event) => setQuestion(event.target.value)}
          onKeyDown={onKeyDown}
        />
        <div className="actions">
          <button type="submit" disabled={busy || streaming || question.trim() === ''}>
            Send
          </button>
          <button type="button" onClick={() => void cancel()} disabled={!streaming}>
            Stop answer
          </button>
        </div>
      </form>
    </main>
  );
}
