import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRecord, SessionRecord, StreamEvent } from '../../src/model.js';
import { backendCases, backendFor } from '../support/backends.js';
import { until } from '../support/wait.js';

/**
 * One contract, two implementations: whatever the memory backend does, the Redis backend does
 * too, so the rest of the server cannot tell them apart.
 */

const cases = backendCases();

const id = (kind: string) => `${kind}-${randomUUID()}`;

function sessionRecord(principal: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: id('session'),
    principal,
    title: 'A title',
    persona: 'assistant',
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...overrides,
  };
}

function messageRecord(
  session: SessionRecord,
  overrides: Partial<MessageRecord> = {},
): MessageRecord {
  return {
    id: id('message'),
    sessionId: session.id,
    principal: session.principal,
    role: 'USER',
    content: 'Hello',
    status: 'COMPLETED',
    error: null,
    model: null,
    usage: null,
    createdAt: '2024-01-01T00:00:01.000Z',
    completedAt: '2024-01-01T00:00:01.000Z',
    ...overrides,
  };
}

function delta(messageId: string, seq: number, text = `t${seq}`): StreamEvent {
  return { type: 'delta', messageId, seq, text, at: 1_700_000_000_000 + seq };
}

function endEvent(messageId: string, seq: number): StreamEvent {
  return { type: 'end', messageId, seq, status: 'COMPLETED', at: 1_700_000_000_000 + seq };
}

/** Collects callback values; `until` resolves once enough arrived, or fails after a deadline. */
function recorder<T>() {
  const items: T[] = [];
  return {
    items,
    push: (item: T) => {
      items.push(item);
    },
    until: (predicate: (items: T[]) => boolean, what: string) =>
      until(() => predicate(items), { timeoutMs: 3_000, intervalMs: 2, what }),
  };
}

describe.each(cases)('%s backend', (_kind, backendCase) => {
  const backend = backendFor(backendCase);

  it('ping() resolves', async () => {
    await expect(backend().ping()).resolves.toBeUndefined();
  });

  describe('sessions', () => {
    it('getSessions returns created sessions in the requested order, and null for unknown ids', async () => {
      const principal = id('principal');
      const first = sessionRecord(principal, { title: 'first' });
      const second = sessionRecord(principal, { title: null });
      await backend().store.createSession(first);
      await backend().store.createSession(second);

      const found = await backend().store.getSessions([second.id, id('missing'), first.id]);

      expect(found).toEqual([second, null, first]);
    });

    it('getSessions of no ids is an empty list', async () => {
      await expect(backend().store.getSessions([])).resolves.toEqual([]);
    });

    it('saveSession replaces the stored record', async () => {
      const session = sessionRecord(id('principal'));
      await backend().store.createSession(session);
      const updated = { ...session, title: 'Renamed', updatedAt: '2024-02-02T00:00:00.000Z' };

      await backend().store.saveSession(updated);

      expect(await backend().store.getSessions([session.id])).toEqual([updated]);
    });

    it('saveSession of an unknown session does not create it', async () => {
      const session = sessionRecord(id('principal'));

      await backend().store.saveSession(session);

      expect(await backend().store.getSessions([session.id])).toEqual([null]);
      expect(
        await backend().store.listSessions(session.principal, { beforeKey: undefined, limit: 10 }),
      ).toEqual([]);
    });

    it('listSessions returns a principal’s sessions newest first, paged by beforeKey and limit', async () => {
      const principal = id('principal');
      const sessions = Array.from({ length: 5 }, () => sessionRecord(principal));
      for (const session of sessions) await backend().store.createSession(session);
      const newestFirst = sessions.map((session) => session.id).reverse();

      const pageIds: string[][] = [];
      let beforeKey: number | undefined;
      for (let round = 0; round < 4; round++) {
        const page = await backend().store.listSessions(principal, { beforeKey, limit: 2 });
        pageIds.push(page.map((entry) => entry.id));
        if (page.length === 0) break;
        beforeKey = page.at(-1)!.key;
      }

      expect(pageIds).toEqual([
        newestFirst.slice(0, 2),
        newestFirst.slice(2, 4),
        newestFirst.slice(4),
        [],
      ]);
    });

    it('listSessions keys decrease down the list', async () => {
      const principal = id('principal');
      for (let index = 0; index < 3; index++) {
        await backend().store.createSession(sessionRecord(principal));
      }

      const keys = (
        await backend().store.listSessions(principal, { beforeKey: undefined, limit: 10 })
      ).map((entry) => entry.key);

      expect(keys).toHaveLength(3);
      expect([...keys].sort((a, b) => b - a)).toEqual(keys);
      expect(new Set(keys).size).toBe(3);
    });

    it('listSessions only lists the given principal’s sessions', async () => {
      const alice = id('alice');
      const bob = id('bob');
      const aliceSession = sessionRecord(alice);
      const bobSessions = [sessionRecord(bob), sessionRecord(bob)];
      await backend().store.createSession(aliceSession);
      for (const session of bobSessions) await backend().store.createSession(session);

      const page = { beforeKey: undefined, limit: 10 };
      const aliceIds = (await backend().store.listSessions(alice, page)).map((entry) => entry.id);
      const bobIds = (await backend().store.listSessions(bob, page)).map((entry) => entry.id);

      expect(aliceIds).toEqual([aliceSession.id]);
      expect(bobIds).toEqual([bobSessions[1]!.id, bobSessions[0]!.id]);
      expect(await backend().store.listSessions(id('nobody'), page)).toEqual([]);
    });

    it('deleteSession returns the session’s message ids and removes the session and its messages', async () => {
      const session = sessionRecord(id('principal'));
      const other = sessionRecord(session.principal);
      await backend().store.createSession(session);
      await backend().store.createSession(other);
      const messages = [messageRecord(session), messageRecord(session, { role: 'ASSISTANT' })];
      for (const message of messages) await backend().store.addMessage(message);
      const kept = messageRecord(other);
      await backend().store.addMessage(kept);

      const removed = await backend().store.deleteSession(session.id);

      expect(removed).toEqual(messages.map((message) => message.id));
      expect(await backend().store.getSessions([session.id, other.id])).toEqual([null, other]);
      expect(await backend().store.getMessages([...removed, kept.id])).toEqual([null, null, kept]);
      expect(await backend().store.countMessages([session.id])).toEqual([0]);
      const listed = await backend().store.listSessions(session.principal, {
        beforeKey: undefined,
        limit: 10,
      });
      expect(listed.map((entry) => entry.id)).toEqual([other.id]);
    });

    it('deleteSession of an unknown session returns no ids', async () => {
      await expect(backend().store.deleteSession(id('missing'))).resolves.toEqual([]);
    });
  });

  describe('messages', () => {
    it('getMessages returns added messages in the requested order, and null for unknown ids', async () => {
      const session = sessionRecord(id('principal'));
      await backend().store.createSession(session);
      const question = messageRecord(session);
      const answer = messageRecord(session, {
        role: 'ASSISTANT',
        content: '',
        status: 'STREAMING',
        model: 'gpt-test',
        completedAt: null,
      });
      await backend().store.addMessage(question);
      await backend().store.addMessage(answer);

      const found = await backend().store.getMessages([answer.id, id('missing'), question.id]);

      expect(found).toEqual([answer, null, question]);
    });

    it('getMessages of no ids is an empty list', async () => {
      await expect(backend().store.getMessages([])).resolves.toEqual([]);
    });

    it('saveMessage replaces the stored record', async () => {
      const session = sessionRecord(id('principal'));
      await backend().store.createSession(session);
      const answer = messageRecord(session, {
        role: 'ASSISTANT',
        content: '',
        status: 'STREAMING',
      });
      await backend().store.addMessage(answer);
      const finished: MessageRecord = {
        ...answer,
        content: 'All done',
        status: 'FAILED',
        error: { code: 'UPSTREAM_UNAVAILABLE', message: 'gone' },
        usage: { promptTokens: 3, completionTokens: 2 },
      };

      await backend().store.saveMessage(finished);

      expect(await backend().store.getMessages([answer.id])).toEqual([finished]);
      expect(await backend().store.countMessages([session.id])).toEqual([1]);
    });

    it('saveMessage of an unknown message does not create it', async () => {
      const message = messageRecord(sessionRecord(id('principal')));

      await backend().store.saveMessage(message);

      expect(await backend().store.getMessages([message.id])).toEqual([null]);
    });

    it('countMessages counts each session’s messages, zero for empty or unknown sessions', async () => {
      const busy = sessionRecord(id('principal'));
      const empty = sessionRecord(busy.principal);
      await backend().store.createSession(busy);
      await backend().store.createSession(empty);
      for (let index = 0; index < 3; index++) await backend().store.addMessage(messageRecord(busy));

      expect(await backend().store.countMessages([busy.id, empty.id, id('missing')])).toEqual([
        3, 0, 0,
      ]);
      expect(await backend().store.countMessages([])).toEqual([]);
    });

    describe('listMessageIds', () => {
      let first: SessionRecord;
      let second: SessionRecord;
      let firstIds: string[];
      let secondIds: string[];

      beforeAll(async () => {
        first = sessionRecord(id('principal'));
        second = sessionRecord(first.principal);
        await backend().store.createSession(first);
        await backend().store.createSession(second);
        firstIds = [];
        secondIds = [];
        for (let index = 0; index < 6; index++) {
          const message = messageRecord(first);
          await backend().store.addMessage(message);
          firstIds.push(message.id);
        }
        for (let index = 0; index < 2; index++) {
          const message = messageRecord(second);
          await backend().store.addMessage(message);
          secondIds.push(message.id);
        }
      });

      it('returns a page of ids oldest first, from offset, at most limit', async () => {
        const [page] = await backend().store.listMessageIds([
          { sessionId: first.id, offset: 2, limit: 3 },
        ]);
        expect(page).toEqual(firstIds.slice(2, 5));
      });

      it('answers several pages of several sessions in one call, in request order', async () => {
        const pages = await backend().store.listMessageIds([
          { sessionId: first.id, offset: 0, limit: 2 },
          { sessionId: second.id, offset: 0, limit: 10 },
          { sessionId: first.id, offset: 4, limit: 10 },
        ]);
        expect(pages).toEqual([firstIds.slice(0, 2), secondIds, firstIds.slice(4)]);
      });

      it('returns an empty page for limit 0, an offset past the end, or an unknown session', async () => {
        const pages = await backend().store.listMessageIds([
          { sessionId: first.id, offset: 0, limit: 0 },
          { sessionId: first.id, offset: 6, limit: 5 },
          { sessionId: id('missing'), offset: 0, limit: 5 },
          { sessionId: second.id, offset: 1, limit: 1 },
        ]);
        expect(pages).toEqual([[], [], [], [secondIds[1]]]);
      });

      it('returns no pages for no requests', async () => {
        await expect(backend().store.listMessageIds([])).resolves.toEqual([]);
      });
    });

    describe('listMessages', () => {
      let first: SessionRecord;
      let second: SessionRecord;
      let firstMessages: MessageRecord[];
      let secondMessages: MessageRecord[];

      beforeAll(async () => {
        first = sessionRecord(id('principal'));
        second = sessionRecord(first.principal);
        await backend().store.createSession(first);
        await backend().store.createSession(second);
        firstMessages = [];
        secondMessages = [];
        for (let index = 0; index < 6; index++) {
          const message = messageRecord(first);
          await backend().store.addMessage(message);
          firstMessages.push(message);
        }
        for (let index = 0; index < 2; index++) {
          const message = messageRecord(second);
          await backend().store.addMessage(message);
          secondMessages.push(message);
        }
      });

      it('returns a page of records oldest first, from offset, at most limit', async () => {
        const [page] = await backend().store.listMessages([
          { sessionId: first.id, offset: 2, limit: 3 },
        ]);
        expect(page).toEqual(firstMessages.slice(2, 5));
      });

      it('gives the records as they are saved now, the same as getMessages', async () => {
        const changed = { ...secondMessages[1]!, content: 'edited', status: 'FAILED' as const };
        await backend().store.saveMessage(changed);
        const [page] = await backend().store.listMessages([
          { sessionId: second.id, offset: 0, limit: 10 },
        ]);
        expect(page).toEqual([secondMessages[0], changed]);
        expect(page).toEqual(
          await backend().store.getMessages(secondMessages.map((message) => message.id)),
        );
        secondMessages[1] = changed;
      });

      it('answers several pages of several sessions in one call, in request order', async () => {
        const pages = await backend().store.listMessages([
          { sessionId: first.id, offset: 0, limit: 2 },
          { sessionId: second.id, offset: 0, limit: 10 },
          { sessionId: first.id, offset: 4, limit: 10 },
        ]);
        expect(pages).toEqual([firstMessages.slice(0, 2), secondMessages, firstMessages.slice(4)]);
      });

      it('returns an empty page for limit 0, an offset past the end, or an unknown session', async () => {
        const pages = await backend().store.listMessages([
          { sessionId: first.id, offset: 0, limit: 0 },
          { sessionId: first.id, offset: 6, limit: 5 },
          { sessionId: id('missing'), offset: 0, limit: 5 },
          { sessionId: second.id, offset: 1, limit: 1 },
        ]);
        expect(pages).toEqual([[], [], [], [secondMessages[1]]]);
      });

      it('leaves out the messages of a deleted session and returns no pages for no requests', async () => {
        const gone = sessionRecord(first.principal);
        await backend().store.createSession(gone);
        await backend().store.addMessage(messageRecord(gone));
        await backend().store.deleteSession(gone.id);
        await expect(
          backend().store.listMessages([{ sessionId: gone.id, offset: 0, limit: 5 }]),
        ).resolves.toEqual([[]]);
        await expect(backend().store.listMessages([])).resolves.toEqual([]);
      });

      it('getSessionWithMessages gives the session and the page listMessages gives, in every case', async () => {
        const pages = [
          { sessionId: first.id, offset: 0, limit: 3 },
          { sessionId: first.id, offset: 4, limit: 10 },
          { sessionId: first.id, offset: 6, limit: 5 },
          { sessionId: first.id, offset: 0, limit: 0 },
          { sessionId: second.id, offset: 0, limit: 100 },
        ];
        for (const page of pages) {
          const [session] = await backend().store.getSessions([page.sessionId]);
          const [messages] = await backend().store.listMessages([page]);
          await expect(backend().store.getSessionWithMessages(page)).resolves.toEqual({
            session,
            messages,
          });
        }
      });

      it('getSessionWithMessages of an unknown or deleted session gives no session and no messages', async () => {
        const gone = sessionRecord(first.principal);
        await backend().store.createSession(gone);
        await backend().store.addMessage(messageRecord(gone));
        await backend().store.deleteSession(gone.id);
        for (const sessionId of [gone.id, id('missing')]) {
          await expect(
            backend().store.getSessionWithMessages({ sessionId, offset: 0, limit: 5 }),
          ).resolves.toEqual({ session: null, messages: [] });
        }
      });
    });
  });

  describe('generation claims', () => {
    it('the first claim succeeds; a second holder is refused and told who holds it', async () => {
      const sessionId = id('session');

      expect(await backend().store.claimSession(sessionId, 'gen-a', 60_000)).toBeNull();
      expect(await backend().store.claimSession(sessionId, 'gen-b', 60_000)).toBe('gen-a');
    });

    it('the holder may claim again', async () => {
      const sessionId = id('session');
      await backend().store.claimSession(sessionId, 'gen-a', 60_000);

      expect(await backend().store.claimSession(sessionId, 'gen-a', 60_000)).toBeNull();
      expect(await backend().store.claimSession(sessionId, 'gen-b', 60_000)).toBe('gen-a');
    });

    it('releaseSession by the holder frees the session for another holder', async () => {
      const sessionId = id('session');
      await backend().store.claimSession(sessionId, 'gen-a', 60_000);

      await backend().store.releaseSession(sessionId, 'gen-a');

      expect(await backend().store.claimSession(sessionId, 'gen-b', 60_000)).toBeNull();
    });

    it('releaseSession by someone else than the holder changes nothing', async () => {
      const sessionId = id('session');
      await backend().store.claimSession(sessionId, 'gen-a', 60_000);

      await backend().store.releaseSession(sessionId, 'gen-b');

      expect(await backend().store.claimSession(sessionId, 'gen-b', 60_000)).toBe('gen-a');
    });

    it('claims are per session', async () => {
      await backend().store.claimSession(id('session'), 'gen-a', 60_000);

      expect(await backend().store.claimSession(id('session'), 'gen-b', 60_000)).toBeNull();
    });

    it('a claim expires after its ttl', async () => {
      const sessionId = id('session');
      await backend().store.claimSession(sessionId, 'gen-a', 150);
      expect(await backend().store.claimSession(sessionId, 'gen-b', 60_000)).toBe('gen-a');

      await until(
        async () => (await backend().store.claimSession(sessionId, 'gen-b', 60_000)) === null,
        {
          timeoutMs: 3_000,
          intervalMs: 20,
          what: 'the claim to expire',
        },
      );

      expect(await backend().store.claimSession(sessionId, 'gen-a', 60_000)).toBe('gen-b');
    });
  });

  describe('generation leases', () => {
    // Leases use absolute times, so the tests pick `now` instead of waiting for the clock.
    const now = 1_000_000_000_000;

    it('lists only leases that ended before now, oldest first', async () => {
      const [old, older, live] = [id('message'), id('message'), id('message')];
      await backend().store.leaseGeneration(old, now - 10);
      await backend().store.leaseGeneration(older, now - 20);
      await backend().store.leaseGeneration(live, now + 1_000);
      const expired = await backend().store.expiredGenerations(now, 1_000);
      expect(expired.filter((messageId) => [old, older, live].includes(messageId))).toEqual([
        older,
        old,
      ]);
    });

    it('a renewed lease is no longer expired and cannot be taken', async () => {
      const messageId = id('message');
      await backend().store.leaseGeneration(messageId, now - 10);
      await backend().store.leaseGeneration(messageId, now + 10_000);
      expect(await backend().store.expiredGenerations(now, 1_000)).not.toContain(messageId);
      expect(await backend().store.takeExpiredGeneration(messageId, now)).toBe(false);
    });

    it('an expired lease is taken by exactly one caller', async () => {
      const messageId = id('message');
      await backend().store.leaseGeneration(messageId, now - 10);
      const takes = await Promise.all([
        backend().store.takeExpiredGeneration(messageId, now),
        backend().store.takeExpiredGeneration(messageId, now),
        backend().store.takeExpiredGeneration(messageId, now),
      ]);
      expect(takes.filter(Boolean)).toHaveLength(1);
      expect(await backend().store.expiredGenerations(now, 1_000)).not.toContain(messageId);
    });

    it('an ended lease is never listed', async () => {
      const messageId = id('message');
      await backend().store.leaseGeneration(messageId, now - 10);
      await backend().store.endGenerationLease(messageId);
      expect(await backend().store.expiredGenerations(now, 1_000)).not.toContain(messageId);
      expect(await backend().store.takeExpiredGeneration(messageId, now)).toBe(false);
    });
  });

  describe('stream log', () => {
    it('an append that skips a seq is rejected and leaves the log as it was', async () => {
      const messageId = id('message');
      await backend().streams.append(messageId, [delta(messageId, 1)]);

      await expect(backend().streams.append(messageId, [delta(messageId, 3)])).rejects.toThrow(
        /SEQ_CONFLICT/,
      );
      const fresh = id('message');
      await expect(backend().streams.append(fresh, [delta(fresh, 2)])).rejects.toThrow(
        /SEQ_CONFLICT/,
      );

      expect(await backend().streams.read(messageId, 0, 10)).toEqual([delta(messageId, 1)]);
      expect(await backend().streams.read(fresh, 0, 10)).toEqual([]);
    });

    it('an append is all or nothing: a bad seq in a batch stores none of it', async () => {
      const messageId = id('message');
      await backend().streams.append(messageId, [delta(messageId, 1)]);
      await expect(
        backend().streams.append(messageId, [delta(messageId, 2), delta(messageId, 2)]),
      ).rejects.toThrow(/SEQ_CONFLICT/);
      expect(await backend().streams.read(messageId, 0, 10)).toEqual([delta(messageId, 1)]);
    });

    it('read returns the appended events in seq order', async () => {
      const messageId = id('message');
      const events = [
        delta(messageId, 1),
        delta(messageId, 2),
        delta(messageId, 3),
        endEvent(messageId, 4),
      ];
      await backend().streams.append(messageId, events.slice(0, 1));
      await backend().streams.append(messageId, events.slice(1));

      expect(await backend().streams.read(messageId, 0, 100)).toEqual(events);
    });

    it('read returns only events after afterSeq, at most limit', async () => {
      const messageId = id('message');
      const events = [1, 2, 3, 4, 5].map((seq) => delta(messageId, seq));
      await backend().streams.append(messageId, events);

      expect(await backend().streams.read(messageId, 2, 100)).toEqual(events.slice(2));
      expect(await backend().streams.read(messageId, 1, 2)).toEqual(events.slice(1, 3));
      expect(await backend().streams.read(messageId, 5, 100)).toEqual([]);
    });

    it('tells the newest seq of a log, 0 for an empty one', async () => {
      const messageId = id('message');
      await expect(backend().streams.newestSeq(messageId)).resolves.toBe(0);
      await backend().streams.append(messageId, [delta(messageId, 1), delta(messageId, 2)]);
      await expect(backend().streams.newestSeq(messageId)).resolves.toBe(2);
      await backend().streams.remove([messageId]);
      await expect(backend().streams.newestSeq(messageId)).resolves.toBe(0);
    });

    it('read of an unknown message is empty', async () => {
      await expect(backend().streams.read(id('message'), 0, 100)).resolves.toEqual([]);
    });

    it('logs are per message', async () => {
      const first = id('message');
      const second = id('message');
      await backend().streams.append(first, [delta(first, 1, 'first')]);
      await backend().streams.append(second, [delta(second, 1, 'second')]);

      expect(await backend().streams.read(first, 0, 10)).toEqual([delta(first, 1, 'first')]);
      expect(await backend().streams.read(second, 0, 10)).toEqual([delta(second, 1, 'second')]);
    });

    it('an append that repeats a seq is rejected, leaves the log as it was and announces nothing', async () => {
      const messageId = id('message');
      const heard = recorder<StreamEvent>();
      await backend().streams.append(messageId, [delta(messageId, 1), delta(messageId, 2)]);
      const unwatch = await backend().streams.watch(messageId, heard.push);
      try {
        await expect(
          backend().streams.append(messageId, [delta(messageId, 2, 'again')]),
        ).rejects.toThrow();
        await expect(
          backend().streams.append(messageId, [delta(messageId, 1, 'older')]),
        ).rejects.toThrow();
        expect(await backend().streams.read(messageId, 0, 10)).toEqual([
          delta(messageId, 1),
          delta(messageId, 2),
        ]);

        // Announcements keep their order: if a rejected event had been announced, it came first.
        await backend().streams.append(messageId, [delta(messageId, 3)]);
        await heard.until((items) => items.length >= 1, 'the announcement of seq 3');
        expect(heard.items).toEqual([delta(messageId, 3)]);
      } finally {
        await unwatch();
      }
    });

    it('watch announces appended events in order', async () => {
      const messageId = id('message');
      const heard = recorder<StreamEvent>();
      const unwatch = await backend().streams.watch(messageId, heard.push);
      try {
        const events = [
          delta(messageId, 1),
          delta(messageId, 2),
          delta(messageId, 3),
          endEvent(messageId, 4),
        ];
        await backend().streams.append(messageId, events.slice(0, 1));
        await backend().streams.append(messageId, events.slice(1, 3));
        await backend().streams.append(messageId, events.slice(3));

        await heard.until((items) => items.length >= 4, 'four announcements');
        expect(heard.items).toEqual(events);
      } finally {
        await unwatch();
      }
    });

    it('watch only announces events of the watched message', async () => {
      const watched = id('message');
      const other = id('message');
      const heard = recorder<StreamEvent>();
      const unwatch = await backend().streams.watch(watched, heard.push);
      try {
        await backend().streams.append(other, [delta(other, 1)]);
        await backend().streams.append(watched, [delta(watched, 1)]);

        await heard.until((items) => items.length >= 1, 'one announcement');
        expect(heard.items).toEqual([delta(watched, 1)]);
      } finally {
        await unwatch();
      }
    });

    it('after unwatch a watcher hears nothing more, while other watchers still do', async () => {
      const messageId = id('message');
      const stopped = recorder<StreamEvent>();
      const still = recorder<StreamEvent>();
      const unwatchStopped = await backend().streams.watch(messageId, stopped.push);
      const unwatchStill = await backend().streams.watch(messageId, still.push);
      try {
        await backend().streams.append(messageId, [delta(messageId, 1)]);
        await stopped.until((items) => items.length >= 1, 'the first announcement');

        await unwatchStopped();
        await backend().streams.append(messageId, [delta(messageId, 2)]);
        await still.until((items) => items.length >= 2, 'the second announcement');

        expect(stopped.items).toEqual([delta(messageId, 1)]);
        expect(still.items).toEqual([delta(messageId, 1), delta(messageId, 2)]);
      } finally {
        await unwatchStill();
      }
    });

    it('remove deletes the given logs and leaves the others', async () => {
      const [first, second, kept] = [id('message'), id('message'), id('message')];
      for (const messageId of [first, second, kept]) {
        await backend().streams.append(messageId, [delta(messageId, 1), endEvent(messageId, 2)]);
      }

      await backend().streams.remove([first, second, id('missing')]);

      expect(await backend().streams.read(first, 0, 10)).toEqual([]);
      expect(await backend().streams.read(second, 0, 10)).toEqual([]);
      expect(await backend().streams.read(kept, 0, 10)).toEqual([
        delta(kept, 1),
        endEvent(kept, 2),
      ]);
    });

    it('remove of no ids does nothing', async () => {
      await expect(backend().streams.remove([])).resolves.toBeUndefined();
    });
  });

  describe('control bus', () => {
    it('publishCancel reaches every onCancel handler', async () => {
      const messageId = id('message');
      const first = recorder<string>();
      const second = recorder<string>();
      const unsubscribeFirst = await backend().control.onCancel(first.push);
      const unsubscribeSecond = await backend().control.onCancel(second.push);
      try {
        await backend().control.publishCancel(messageId);

        await first.until((items) => items.includes(messageId), 'the first handler');
        await second.until((items) => items.includes(messageId), 'the second handler');
      } finally {
        await unsubscribeFirst();
        await unsubscribeSecond();
      }
    });

    it('an unsubscribed handler hears no more cancels', async () => {
      const before = id('message');
      const after = id('message');
      const stopped = recorder<string>();
      const still = recorder<string>();
      const unsubscribeStopped = await backend().control.onCancel(stopped.push);
      const unsubscribeStill = await backend().control.onCancel(still.push);
      try {
        await backend().control.publishCancel(before);
        await stopped.until((items) => items.includes(before), 'the first cancel');

        await unsubscribeStopped();
        await backend().control.publishCancel(after);
        await still.until((items) => items.includes(after), 'the second cancel');

        expect(stopped.items).toContain(before);
        expect(stopped.items).not.toContain(after);
      } finally {
        await unsubscribeStill();
      }
    });
  });
});
