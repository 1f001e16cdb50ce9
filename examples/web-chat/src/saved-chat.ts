/**
 * What survives a reload, in localStorage: the session, and the answer being streamed with the
 * text received so far and the cursor of its last delta. Text and cursor are saved together, so
 * resuming with `after: cursor` appends exactly what the page has not shown yet.
 */
export interface ActiveStream {
  messageId: string;
  cursor: string | null;
  lastSeq: number;
  text: string;
}

export interface SavedChat {
  sessionId: string | null;
  stream: ActiveStream | null;
}

const KEY = 'parley-web-chat';
export const EMPTY_CHAT: SavedChat = { sessionId: null, stream: null };

function isActiveStream(value: unknown): value is ActiveStream {
  if (typeof value !== 'object' || value === null) return false;
  const stream = value as Record<string, unknown>;
  return (
    typeof stream.messageId === 'string' &&
    (stream.cursor === null || typeof stream.cursor === 'string') &&
    typeof stream.lastSeq === 'number' &&
    typeof stream.text === 'string'
  );
}

/** The saved chat, or an empty one when nothing (or something unreadable) is stored. */
export function loadChat(): SavedChat {
  try {
    const saved: unknown = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    if (typeof saved !== 'object' || saved === null) return EMPTY_CHAT;
    const { sessionId, stream } = saved as Record<string, unknown>;
    return {
      sessionId: typeof sessionId === 'string' ? sessionId : null,
      stream: isActiveStream(stream) ? stream : null,
    };
  } catch {
    return EMPTY_CHAT;
  }
}

export function saveChat(chat: SavedChat): void {
  localStorage.setItem(KEY, JSON.stringify(chat));
}
