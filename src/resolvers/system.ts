import { builder } from '../schema/builder.js';
import { HealthRef } from '../schema/health.js';
import { PersonaRef } from '../schema/persona.js';
import { ViewerRef } from '../schema/viewer.js';

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
    resolve: (_root, _args, context) => context.principal,
  }),
}));
