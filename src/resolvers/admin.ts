import { AdminRef, BreakerRef } from '../schema/admin.js';
import { builder } from '../schema/builder.js';

builder.queryFields((t) => ({
  admin: t.field({
    type: AdminRef,
    authScopes: { admin: true },
    resolve: () => ({}),
  }),
}));

builder.mutationFields((t) => ({
  resetBreaker: t.field({
    type: BreakerRef,
    description: 'Closes a circuit breaker by name (see `admin { breakers { name } }`).',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, context) => context.services.admin.resetBreaker(name),
  }),
}));
