import type { RateLimitView, TokenBudgetView, ViewerRecord } from '../model.js';
import { builder } from './builder.js';

export const TokenBudgetRef = builder.objectRef<TokenBudgetView>('TokenBudget').implement({
  description: 'LLM tokens (prompt and completion, real usage) this principal may still spend.',
  fields: (t) => ({
    limit: t.exposeInt('limit'),
    used: t.exposeInt('used'),
    remaining: t.exposeInt('remaining', { description: 'Never below 0.' }),
    resetAt: t.expose('resetAt', { type: 'DateTime', description: 'When the window renews.' }),
  }),
});

export const ViewerRef = builder.objectRef<ViewerRecord>('Viewer').implement({
  description: 'Who the server takes the caller to be.',
  fields: (t) => ({
    principal: t.string({ resolve: (viewer) => viewer.principal.id }),
    scopes: t.stringList({ resolve: (viewer) => [...viewer.principal.scopes] }),
    anonymous: t.boolean({
      description: 'True in development mode without API keys.',
      resolve: (viewer) => viewer.principal.anonymous,
    }),
    tokenBudget: t.field({
      type: TokenBudgetRef,
      nullable: true,
      description: 'Null when this principal has no token budget (unlimited).',
      resolve: (viewer) => viewer.tokenBudget(),
    }),
  }),
});

export const RateLimitRef = builder.objectRef<RateLimitView>('RateLimit').implement({
  description:
    "The caller's point bucket after this operation (GitHub's rateLimit): every operation costs " +
    'its static cost (see the README), refunded down to its actual cost once it ran.',
  fields: (t) => ({
    limit: t.exposeInt('limit', { description: 'Bucket size in points.' }),
    remaining: t.exposeInt('remaining'),
    restoreRate: t.exposeFloat('restoreRate', { description: 'Points restored per second.' }),
    resetAt: t.expose('resetAt', { type: 'DateTime', description: 'When the bucket is full.' }),
    cost: t.exposeInt('cost', { description: "This operation's requested cost." }),
  }),
});
