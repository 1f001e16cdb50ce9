import type { HealthCheck, HealthReport } from '../model.js';
import { builder } from './builder.js';

export const HealthStatusEnum = builder.enumType('HealthStatus', {
  values: ['OK', 'DEGRADED', 'DOWN'] as const,
});

export const HealthCheckRef = builder.objectRef<HealthCheck>('HealthCheck').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    status: t.expose('status', { type: HealthStatusEnum }),
    latencyMs: t.exposeFloat('latencyMs', { nullable: true }),
    detail: t.exposeString('detail', { nullable: true }),
  }),
});

export const HealthRef = builder.objectRef<HealthReport>('Health').implement({
  fields: (t) => ({
    status: t.expose('status', { type: HealthStatusEnum }),
    version: t.exposeString('version'),
    uptimeSeconds: t.exposeFloat('uptimeSeconds'),
    checks: t.expose('checks', { type: [HealthCheckRef] }),
  }),
});
