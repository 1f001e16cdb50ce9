import { NotFound } from '../errors.js';
import type { BreakerRegistry, BreakerSnapshot } from '../infra/breakers.js';

/** Operator views and actions (admin scope): breaker states and manual resets. */
export class AdminService {
  constructor(private readonly breakers: BreakerRegistry) {}

  listBreakers(): BreakerSnapshot[] {
    return this.breakers.list();
  }

  resetBreaker(name: string): BreakerSnapshot {
    if (!this.breakers.reset(name)) throw new NotFound('Breaker', name);
    return this.breakers.list().find((breaker) => breaker.name === name)!;
  }
}
