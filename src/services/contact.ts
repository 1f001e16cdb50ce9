import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { BadInput, RateLimited } from '../errors.js';
import type { ContactListEntry, ContactStore } from '../infra/backend/contacts.js';
import type { BucketPolicy, Ledger } from '../infra/backend/ledger.js';
import type { ContactForwarder } from '../infra/contact-webhook.js';
import type { Logger } from '../infra/logger.js';
import type { ContactRecord } from '../model.js';

export interface ContactInput {
  name: string;
  email: string;
  message: string;
}

/** Bounds of each field, after trimming: characters (what a form shows) and UTF-8 bytes (what is stored). */
const FIELD_LIMITS = {
  name: { chars: 200, bytes: 600, multiline: false },
  // RFC 5321: a forward path is at most 256 octets, the address 254 of them.
  email: { chars: 254, bytes: 254, multiline: false },
  message: { chars: 5_000, bytes: 12_000, multiline: true },
} as const;

type Field = keyof typeof FIELD_LIMITS;

/** C0 and C1 controls and DEL; a message may keep tabs and line breaks. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job.
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** A surrogate half without its other half: not text, and not encodable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const emailSyntax = z.email();

/** Characters as a person counts them (code points), without building an array of a long text. */
function codePoints(text: string, atMost: number): number {
  let count = 0;
  for (const _ of text) if (++count > atMost) break;
  return count;
}

const newContactId = () => `con_${randomUUID().replaceAll('-', '')}`;

export interface ContactServiceOptions {
  store: ContactStore;
  ledger: Ledger;
  /** Submissions one client address may make per hour (a bucket that refills over the hour). */
  limitPerHour: number;
  forwarder: ContactForwarder | undefined;
  log: Logger;
  now?: () => number;
}

/**
 * The public contact form: checks a submission, counts it against its client address, stores it,
 * then forwards it to the webhook when one is configured. The forward runs after the answer and
 * its failure is only logged: the stored submission is what counts, and admin lists it.
 */
export class ContactService {
  private readonly policy: BucketPolicy;
  private readonly now: () => number;
  private readonly forwarding = new Set<Promise<void>>();

  constructor(private readonly options: ContactServiceOptions) {
    this.policy = { limit: options.limitPerHour, restoreRate: options.limitPerHour / 3600 };
    this.now = options.now ?? Date.now;
  }

  async submit(input: ContactInput, clientIp: string): Promise<ContactRecord> {
    const fields = checkedInput(input);
    const bucket = await this.options.ledger.debitPoints(
      `contact:ip:${clientIp}`,
      1,
      this.policy,
      this.now(),
    );
    if (!bucket.allowed) {
      throw new RateLimited('Too many contact submissions from your address; try again later.', {
        retryAfterMs: bucket.retryAfterMs,
        reason: 'CONTACT_LIMIT',
      });
    }
    const contact: ContactRecord = {
      id: newContactId(),
      ...fields,
      createdAt: new Date(this.now()).toISOString(),
    };
    await this.options.store.add(contact);
    this.forward(contact);
    return contact;
  }

  list(page: { beforeKey: string | undefined; limit: number }): Promise<ContactListEntry[]> {
    return this.options.store.list(page);
  }

  /** Waits for forwards still running (shutdown); each is bounded by the webhook's timeout. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.forwarding]);
  }

  private forward(contact: ContactRecord): void {
    const { forwarder, log } = this.options;
    if (!forwarder) return;
    const sent = forwarder
      .forward(contact)
      .then(
        () => log.debug({ contactId: contact.id }, 'contact forwarded'),
        // The logger's error serializer keeps type, code and status: never the submission, the
        // URL (it may carry a token) or the receiver's body.
        (error: unknown) =>
          log.warn(
            { contactId: contact.id, err: error },
            'contact webhook failed; the submission stays stored',
          ),
      )
      .finally(() => this.forwarding.delete(sent));
    this.forwarding.add(sent);
  }
}

/** Trimmed fields within their bounds, or BAD_USER_INPUT naming the field (and never echoing it). */
function checkedInput(input: ContactInput): ContactInput {
  const checked = {} as ContactInput;
  for (const field of Object.keys(FIELD_LIMITS) as Field[]) {
    checked[field] = checkedField(field, input[field]);
  }
  if (!emailSyntax.safeParse(checked.email).success) {
    throw new BadInput('"email" is not a valid email address.', { field: 'email' });
  }
  return checked;
}

function checkedField(field: Field, raw: string): string {
  const limits = FIELD_LIMITS[field];
  const refuse = (why: string) => new BadInput(`"${field}" ${why}.`, { field });
  if (LONE_SURROGATE.test(raw)) throw refuse('is not valid Unicode text');
  const value = limits.multiline ? raw.replace(/\r\n?/g, '\n').trim() : raw.trim();
  if (value.length === 0) throw refuse('must not be empty');
  if ((limits.multiline ? CONTROL_BUT_LINES : CONTROL).test(value)) {
    throw refuse(
      limits.multiline
        ? 'must not contain control characters other than tabs and line breaks'
        : 'must not contain control characters',
    );
  }
  if (value.length > limits.chars && codePoints(value, limits.chars) > limits.chars)
    throw refuse(`must be at most ${limits.chars} characters`);
  if (Buffer.byteLength(value, 'utf8') > limits.bytes) {
    throw refuse(`must be at most ${limits.bytes} bytes in UTF-8`);
  }
  return value;
}
