import { BadInput } from '../errors.js';
import { type ContactRecord, isContactListKey } from '../model.js';
import { AdminRef } from './admin.js';
import { builder } from './builder.js';
import { pagedConnection } from './cost-directives.js';
import { assertPageSize } from './pagination.js';

/** The contact form's types, and `admin { contacts }`, which lists what it received. */

export const DEFAULT_CONTACT_PAGE = 20;

export const ContactSubmissionRef = builder
  .objectRef<ContactRecord>('ContactSubmission')
  .implement({
    description:
      'A message sent with `submitContact`, as stored (fields trimmed). Listed by `admin { contacts }`.',
    fields: (t) => ({
      id: t.exposeID('id'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      name: t.exposeString('name'),
      email: t.exposeString('email'),
      message: t.exposeString('message'),
    }),
  });

export const SubmitContactInput = builder.inputType('SubmitContactInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: '1–200 characters (at most 600 bytes).' }),
    email: t.string({ required: true, description: 'An email address, at most 254 characters.' }),
    message: t.string({
      required: true,
      description: '1–5000 characters (at most 12000 bytes); line breaks and tabs are kept.',
    }),
  }),
});

export const ContactSubmissionConnectionRef = builder.connectionObject(
  { type: ContactSubmissionRef, name: 'ContactSubmissionConnection' },
  { name: 'ContactSubmissionEdge' },
);

const encodeContactCursor = (key: string) => Buffer.from(`contact:${key}`).toString('base64url');

function decodeContactCursor(cursor: string): string {
  const key = /^contact:(.*)$/s.exec(Buffer.from(cursor, 'base64url').toString())?.[1];
  if (key === undefined || !isContactListKey(key)) {
    throw new BadInput('"after" is not a cursor from this list.', { field: 'after' });
  }
  return key;
}

builder.objectFields(AdminRef, (t) => ({
  contacts: t.field({
    type: ContactSubmissionConnectionRef,
    description: `Contact submissions, newest first; ${DEFAULT_CONTACT_PAGE} per page unless \`first\` says otherwise (at most 100). The newest 10000 are kept.`,
    directives: pagedConnection(DEFAULT_CONTACT_PAGE, ['first']),
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_admin, args, { services }) => {
      assertPageSize(args);
      const first = args.first ?? DEFAULT_CONTACT_PAGE;
      const entries = await services.contact.list({
        beforeKey: args.after ? decodeContactCursor(args.after) : undefined,
        limit: first + 1,
      });
      const edges = entries
        .slice(0, first)
        .map((entry) => ({ cursor: encodeContactCursor(entry.key), node: entry.contact }));
      return {
        edges,
        pageInfo: {
          hasNextPage: entries.length > first,
          hasPreviousPage: Boolean(args.after),
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  }),
}));
