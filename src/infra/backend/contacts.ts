import type { ContactRecord } from '../../model.js';

/**
 * Contact submissions: appended, listed newest first, never edited. Both backends keep the
 * newest MAX_STORED_CONTACTS and drop older ones (Redis trims its stream approximately, so it
 * may keep a few more).
 */
export interface ContactStore {
  add(contact: ContactRecord): Promise<void>;
  /** Newest first, strictly older than `beforeKey` when given, at most `limit`. */
  list(page: { beforeKey: string | undefined; limit: number }): Promise<ContactListEntry[]>;
}

export interface ContactListEntry {
  /** Position in the list, a Redis stream entry id (`<ms>-<seq>`, or `<n>-0` in memory). */
  key: string;
  contact: ContactRecord;
}

export const MAX_STORED_CONTACTS = 10_000;
