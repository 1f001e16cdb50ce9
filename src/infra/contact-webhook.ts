import type { ContactRecord } from '../model.js';
import type { Breaker } from './breakers.js';

/** Sends one stored submission somewhere else; rejects when it did not arrive. */
export interface ContactForwarder {
  forward(contact: ContactRecord): Promise<void>;
}

/** The upstream answered, but not with a 2xx: only the status is kept (never its body). */
export class WebhookRefused extends Error {
  override name = 'WebhookRefused';

  constructor(readonly status: number) {
    super('The contact webhook did not answer 2xx.');
  }
}

export interface ContactWebhookOptions {
  url: string;
  /** Per call, headers and body together: a slow receiver counts as a failure. */
  timeoutMs: number;
  breaker: Breaker;
}

/**
 * POSTs each submission as JSON to CONTACT_WEBHOOK_URL behind its own circuit breaker. Each call
 * has its own AbortSignal (opossum's shared one would abort concurrent calls), and redirects are
 * not followed: the configured URL is the only place submissions go.
 */
export function createContactWebhook(options: ContactWebhookOptions): ContactForwarder {
  return {
    forward: (contact) =>
      options.breaker.fire(async () => {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'parley-contact-webhook' },
          body: JSON.stringify({ type: 'contact.submitted', contact }),
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        // Read to the end (and drop) so the connection can be reused.
        await response.arrayBuffer().catch(() => undefined);
        if (response.status < 200 || response.status >= 300) {
          throw new WebhookRefused(response.status);
        }
      }),
  };
}
