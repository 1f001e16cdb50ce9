import type { Principal } from '../model.js';

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerPrincipal: number;
}

/** Why a socket was turned away, and the close code it gets. */
export type Refusal =
  | { reason: 'server-full'; code: 1013; message: 'Server is at its connection limit' }
  | { reason: 'principal-limit'; code: 4429; message: 'Too many connections' };

const SERVER_FULL: Refusal = {
  reason: 'server-full',
  code: 1013,
  message: 'Server is at its connection limit',
};
const PRINCIPAL_LIMIT: Refusal = {
  reason: 'principal-limit',
  code: 4429,
  message: 'Too many connections',
};

/** One admitted socket's place in the counts: whom it is counted against, until released. */
export interface ConnectionSlot {
  holder: string | undefined;
  released: boolean;
}

/**
 * The WebSocket connection caps. A socket counts against its client IP from the upgrade on, and
 * stays there if it turns out anonymous; one that authenticates with a key moves onto that
 * key's count (so callers sharing an address, behind one NAT, are not each other's limit once
 * they have said who they are). Every admitted socket also counts toward the server's total.
 */
export class ConnectionAdmission {
  private readonly countByHolder = new Map<string, number>();
  private openCount = 0;
  private refusedCount = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  /** Sockets admitted and not yet closed. */
  get open(): number {
    return this.openCount;
  }

  /** Sockets refused since start, at the upgrade or at connection_init. */
  get refused(): number {
    return this.refusedCount;
  }

  /** At the upgrade: a slot for the socket, or why it is refused. */
  admit(clientIp: string): ConnectionSlot | Refusal {
    if (this.openCount >= this.limits.maxConnections) return this.refuse(SERVER_FULL);
    const holder = ipHolder(clientIp);
    if (!this.take(holder)) return this.refuse(PRINCIPAL_LIMIT);
    this.openCount++;
    return { holder, released: false };
  }

  /**
   * At connection_init: an anonymous principal stays counted by IP; a keyed one moves onto its
   * key's count, or is refused when that key already holds its maximum.
   */
  authenticated(slot: ConnectionSlot, principal: Principal): Refusal | undefined {
    if (principal.anonymous || slot.released) return undefined;
    this.give(slot.holder);
    slot.holder = undefined;
    const holder = `key:${principal.id}`;
    if (!this.take(holder)) return this.refuse(PRINCIPAL_LIMIT);
    slot.holder = holder;
    return undefined;
  }

  release(slot: ConnectionSlot): void {
    if (slot.released) return;
    slot.released = true;
    this.give(slot.holder);
    slot.holder = undefined;
    this.openCount--;
  }

  private take(holder: string): boolean {
    const count = this.countByHolder.get(holder) ?? 0;
    if (count >= this.limits.maxConnectionsPerPrincipal) return false;
    this.countByHolder.set(holder, count + 1);
    return true;
  }

  private give(holder: string | undefined): void {
    if (holder === undefined) return;
    const count = (this.countByHolder.get(holder) ?? 1) - 1;
    if (count > 0) this.countByHolder.set(holder, count);
    else this.countByHolder.delete(holder);
  }

  private refuse(refusal: Refusal): Refusal {
    this.refusedCount++;
    return refusal;
  }
}

export function isRefusal(admitted: ConnectionSlot | Refusal): admitted is Refusal {
  return 'reason' in admitted;
}

const ipHolder = (clientIp: string) => `ip:${clientIp}`;
