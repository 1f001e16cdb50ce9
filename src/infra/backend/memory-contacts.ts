import type { ContactRecord } from '../../model.js';
import { type ContactListEntry, type ContactStore, MAX_STORED_CONTACTS } from './contacts.js';

/** The embedded contact list: the same order, keys and bound as the Redis stream. */
export class MemoryContactStore implements ContactStore {
  /** Oldest first; `order` is the number in the entry's key `<order>-0`. */
  private readonly entries: { order: number; contact: ContactRecord }[] = [];
  private nextOrder = 1;

  constructor(private readonly maxStored = MAX_STORED_CONTACTS) {}

  async add(contact: ContactRecord): Promise<void> {
    this.entries.push({ order: this.nextOrder++, contact: { ...contact } });
    if (this.entries.length > this.maxStored)
      this.entries.splice(0, this.entries.length - this.maxStored);
  }

  async list(page: { beforeKey: string | undefined; limit: number }): Promise<ContactListEntry[]> {
    const before =
      page.beforeKey === undefined ? Number.POSITIVE_INFINITY : orderOf(page.beforeKey);
    const result: ContactListEntry[] = [];
    for (let index = this.entries.length - 1; index >= 0 && result.length < page.limit; index--) {
      const entry = this.entries[index]!;
      if (entry.order < before)
        result.push({ key: `${entry.order}-0`, contact: { ...entry.contact } });
    }
    return result;
  }
}

/** `<ms>-<seq>` keys from a Redis deployment compare by their first part here too. */
const orderOf = (key: string) => Number(key.split('-', 1)[0]);
