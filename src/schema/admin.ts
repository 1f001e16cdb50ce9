import type { BreakerSnapshot } from '../model.js';
import { builder } from './builder.js';

export const BreakerStateEnum = builder.enumType('BreakerState', {
  values: ['CLOSED', 'OPEN', 'HALF_OPEN'] as const,
});

export const BreakerRef = builder.objectRef<BreakerSnapshot>('Breaker').implement({
  description: 'A circuit breaker guarding one upstream; counts cover the rolling window.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'llm:<provider>:<model>, or redis.' }),
    state: t.expose('state', { type: BreakerStateEnum }),
    fires: t.exposeInt('fires'),
    successes: t.exposeInt('successes'),
    failures: t.exposeInt('failures'),
    rejects: t.exposeInt('rejects', { description: 'Calls refused while open.' }),
    timeouts: t.exposeInt('timeouts'),
    latencyMeanMs: t.exposeFloat('latencyMeanMs'),
  }),
});

/** The admin root holds nothing itself; its fields read the services. */
export const AdminRef = builder.objectRef<Record<string, never>>('Admin').implement({
  description: 'Operator views; needs the admin scope.',
  fields: (t) => ({
    breakers: t.field({
      type: [BreakerRef],
      resolve: (_admin, _args, context) => context.services.admin.listBreakers(),
    }),
  }),
});
