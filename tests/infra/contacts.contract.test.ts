import { describe, expect, it } from 'vitest';
import { MemoryContactStore } from '../../src/infra/backend/memory-contacts.js';
import type { ContactRecord } from '../../src/model.js';
import { isContactListKey } from '../../src/model.js';
import { backendCases, backendFor } from '../support/backends.js';

let next = 0;
const contact = (): ContactRecord => {
  next++;
  return {
    id: `con_${next.toString(16).padStart(32, '0')}`,
    name: `Sender ${next}`,
    email: `sender${next}@example.org`,
    message: `Message ${next}\nwith a second line`,
    createdAt: new Date(1_700_000_000_000 + next).toISOString(),
  };
};

/** The contact list's rules, the same on both backends (each case has a store of its own). */
describe.each(backendCases())('the %s contact store', (_name, backendCase) => {
  const backend = backendFor(backendCase);

  it('is empty at first', async () => {
    expect(await backend().contacts.list({ beforeKey: undefined, limit: 10 })).toEqual([]);
  });

  it('lists newest first, as stored, with keys a page continues strictly after', async () => {
    const stored = [contact(), contact(), contact()];
    for (const record of stored) await backend().contacts.add(record);
    const page = await backend().contacts.list({ beforeKey: undefined, limit: 2 });
    expect(page.map((entry) => entry.contact)).toEqual([stored[2], stored[1]]);
    for (const entry of page) expect(isContactListKey(entry.key)).toBe(true);
    const rest = await backend().contacts.list({ beforeKey: page[1]!.key, limit: 10 });
    expect(rest.map((entry) => entry.contact)).toEqual([stored[0]]);
    expect(await backend().contacts.list({ beforeKey: rest[0]!.key, limit: 10 })).toEqual([]);
  });

  it('a limit of 0 lists nothing', async () => {
    expect(await backend().contacts.list({ beforeKey: undefined, limit: 0 })).toEqual([]);
  });
});

describe('the memory contact store', () => {
  it('keeps only the newest ones past its bound', async () => {
    const store = new MemoryContactStore(2);
    const stored = [contact(), contact(), contact()];
    for (const record of stored) await store.add(record);
    const listed = await store.list({ beforeKey: undefined, limit: 10 });
    expect(listed.map((entry) => entry.contact)).toEqual([stored[2], stored[1]]);
  });
});
