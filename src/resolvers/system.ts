import { builder } from '../schema/builder.js';
import { HealthRef } from '../schema/health.js';
import { PersonaRef } from '../schema/persona.js';
import { RateLimitRef, ViewerRef } from '../schema/viewer.js';

builder.queryFields((t) => ({
  health: t.field({
    type: HealthRef,
    description:
      'Each dependency checked live. Details (endpoints, models, breakers) are shown to admin keys only.',
    resolve: (_root, _args, context) =>
      context.services.health.report({ details: context.principal.scopes.includes('admin') }),
  }),
  personas: t.field({
    type: [PersonaRef],
    resolve: (_root, _args, context) => context.services.personas.list(),
  }),
  viewer: t.field({
    type: ViewerRef,
    resolve: (_root, _args, { principal, ledgerKey, services }) => ({
      principal,
      tokenBudget: () => services.tokenBudgets.view(principal, ledgerKey),
    }),
  }),
  rateLimit: t.field({
    type: RateLimitRef,
    description: "The caller's point bucket as this operation left it, and this operation's cost.",
    resolve: async (_root, _args, { operationCost, ledgerKey, services }) => {
      const { policy } = services.points;
      const state = operationCost?.state ?? (await services.points.debit(ledgerKey, 0));
      return {
        limit: policy.limit,
        remaining: state.remaining,
        restoreRate: policy.restoreRate,
        resetAt: new Date(state.resetAt),
        cost: operationCost?.requested ?? 0,
      };
    },
  }),
}));
