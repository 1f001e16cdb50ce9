import type { Redis } from 'ioredis';
import type { ContactRecord } from '../../../model.js';
import { type ContactListEntry, type ContactStore, MAX_STORED_CONTACTS } from '../contacts.js';
import type { Guard } from './connection.js';
import type { RedisKeys } from './keys.js';

/**
 * Contact submissions in one Redis stream: XADD with an approximate MAXLEN bound (trimming whole
 * macro nodes is cheap), XREVRANGE with an exclusive start (Redis 6.2+) for the pages.
 */
export class RedisContactStore implements ContactStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly guarded: Guard,
  ) {}

  async add(contact: ContactRecord): Promise<void> {
    await this.guarded(() =>
      this.redis.xadd(
        this.keys.contacts,
        'MAXLEN',
        '~',
        MAX_STORED_CONTACTS,
        '*',
        'c',
        JSON.stringify(contact),
      ),
    );
  }

  async list(page: { beforeKey: string | undefined; limit: number }): Promise<ContactListEntry[]> {
    if (page.limit <= 0) return [];
    const end = page.beforeKey === undefined ? '+' : `(${page.beforeKey}`;
    const entries = await this.guarded(() =>
      this.redis.xrevrange(this.keys.contacts, end, '-', 'COUNT', page.limit),
    );
    return entries.flatMap(([key, fields]) => {
      const at = fields.indexOf('c');
      const json = at >= 0 ? fields[at + 1] : undefined;
      return json === undefined ? [] : [{ key, contact: JSON.parse(json) as ContactRecord }];
    });
  }
}
