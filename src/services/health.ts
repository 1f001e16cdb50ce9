import { performance } from 'node:perf_hooks';
import type { BreakerRegistry } from '../infra/breakers.js';
import type { BreakerSnapshot, HealthCheck, HealthReport, HealthStatus } from '../model.js';
import type { LlmChain } from './llm/index.js';

const SEVERITY: Record<HealthStatus, number> = { OK: 0, DEGRADED: 1, DOWN: 2 };

/** What `health` and `/ready` report: each dependency checked live, the worst one wins. */
export class HealthService {
  private readonly startedAt = performance.now();

  private readonly version: string;
  private readonly backend: { kind: string; ping(): Promise<void> };
  private readonly llm: LlmChain;
  private readonly breakers: BreakerRegistry;

  constructor(parts: {
    version: string;
    backend: { kind: string; ping(): Promise<void> };
    llm: LlmChain;
    breakers: BreakerRegistry;
  }) {
    this.version = parts.version;
    this.backend = parts.backend;
    this.llm = parts.llm;
    this.breakers = parts.breakers;
  }

  async backendReady(): Promise<boolean> {
    return (await this.checkBackend()).status === 'OK';
  }

  /**
   * Without `details` (any caller but admin) the report says how each part is, not what it is:
   * no endpoint, model or breaker name, which would map the deployment for an attacker.
   */
  async report({ details }: { details: boolean }): Promise<HealthReport> {
    const parts = [await this.checkBackend(), this.checkLlm()];
    const breakers = this.breakers.list().map(checkBreaker);
    const status = [...parts, ...breakers].reduce<HealthStatus>(
      (worst, check) => (SEVERITY[check.status] > SEVERITY[worst] ? check.status : worst),
      'OK',
    );
    return {
      status,
      version: this.version,
      uptimeSeconds: (performance.now() - this.startedAt) / 1000,
      checks: details
        ? [...parts, ...breakers]
        : parts.map((check) => ({ ...check, detail: null })),
    };
  }

  private async checkBackend(): Promise<HealthCheck> {
    const started = performance.now();
    try {
      await this.backend.ping();
      return {
        name: 'backend',
        status: 'OK',
        latencyMs: performance.now() - started,
        detail: this.backend.kind,
      };
    } catch {
      return {
        name: 'backend',
        status: 'DOWN',
        latencyMs: performance.now() - started,
        detail: `${this.backend.kind} is not answering`,
      };
    }
  }

  private checkLlm(): HealthCheck {
    return this.llm.unavailable
      ? { name: 'llm', status: 'DOWN', latencyMs: null, detail: 'every model breaker is open' }
      : { name: 'llm', status: 'OK', latencyMs: null, detail: this.llm.describe };
  }
}

/** An open breaker degrades the service (others may still answer); the llm check says when none can. */
function checkBreaker(breaker: BreakerSnapshot): HealthCheck {
  return {
    name: `breaker:${breaker.name}`,
    status: breaker.state === 'CLOSED' ? 'OK' : 'DEGRADED',
    latencyMs: breaker.latencyMeanMs,
    detail: `${breaker.state}; ${breaker.failures} failures, ${breaker.rejects} rejected in the window`,
  };
}
