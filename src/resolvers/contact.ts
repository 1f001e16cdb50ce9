import { builder } from '../schema/builder.js';
import { ContactSubmissionRef, SubmitContactInput } from '../schema/contact.js';

builder.mutationFields((t) => ({
  submitContact: t.field({
    type: ContactSubmissionRef,
    description:
      'The public contact form: needs no API key. Limited per client address (CONTACT_LIMIT_PER_HOUR); past it RATE_LIMITED with retryAfter.',
    // No scope: an operation made of this field alone is the one thing a caller without a key
    // may run (server/public-operations.ts); with a key, any key may.
    args: { input: t.arg({ type: SubmitContactInput, required: true }) },
    resolve: (_root, { input }, { services, clientIp }) => services.contact.submit(input, clientIp),
  }),
}));
