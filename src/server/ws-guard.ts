import type { WebSocket } from 'ws';
import type { Logger } from '../infra/logger.js';

export interface GuardLimits {
  pingIntervalMs: number;
  pongTimeoutMs: number;
  idleTimeoutMs: number;
  maxMessagesPerSecond: number;
  maxBufferedBytes: number;
}

/** Why the guard ended a socket. */
export type GuardReason = 'missed-pong' | 'idle' | 'message-rate' | 'slow-consumer';

/** What a guard's log lines say about a socket. */
export interface SocketLabels {
  clientIp: string;
  principal?: string;
}

const RATE_WINDOW_MS = 1_000;
/** The sweep runs this many times within the shortest of the ping, pong and idle limits. */
const SWEEPS_PER_LIMIT = 4;
const MIN_SWEEP_MS = 25;
/** A peer closed by the guard that has not answered its close frame by then is cut off. */
const CLOSE_HANDSHAKE_MS = 1_000;
/** A sweep this much past its time says the event loop was held (a burst, a long GC). */
const HELD_TOLERANCE_MS = 50;

/** One socket's keep-alive, idle and rate state: plain fields, nothing allocated per event. */
export class WatchedSocket {
  pingedAt: number;
  awaitingPong = false;
  idleSince: number;
  windowStart: number;
  messagesInWindow = 0;
  /** The guard is closing it: whatever else arrives is dropped. */
  ending = false;
  endedAt = 0;

  constructor(
    readonly socket: WebSocket,
    readonly labels: SocketLabels,
    readonly isBusy: () => boolean,
    now: number,
  ) {
    this.pingedAt = now;
    this.idleSince = now;
    this.windowStart = now;
  }
}

/**
 * Per-socket protection past the handshake: keep-alive (a ping every `pingIntervalMs`, the
 * socket terminated when no pong came within `pongTimeoutMs`), idle close (1000 after
 * `idleTimeoutMs` with no operation running), a message rate (4429 past `maxMessagesPerSecond`,
 * protocol pings and pongs included) and a cap on the bytes queued to a peer that does not read
 * (terminated past `maxBufferedBytes`). One sweep timer serves every socket; a peer the guard
 * closed that has not answered its close frame within a second is cut off at the next sweep.
 */
export class SocketGuard {
  private readonly watched = new Set<WatchedSocket>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly sweepMs: number;
  private lastSweepAt: number;
  readonly closedBy: Record<GuardReason, number> = {
    'missed-pong': 0,
    idle: 0,
    'message-rate': 0,
    'slow-consumer': 0,
  };

  constructor(
    private readonly limits: GuardLimits,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const shortest = Math.min(limits.pingIntervalMs, limits.pongTimeoutMs, limits.idleTimeoutMs);
    const sweepMs = Math.max(MIN_SWEEP_MS, Math.floor(shortest / SWEEPS_PER_LIMIT));
    this.sweepMs = sweepMs;
    this.lastSweepAt = this.now();
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs).unref();
  }

  watch(socket: WebSocket, labels: SocketLabels, isBusy: () => boolean): WatchedSocket {
    const watched = new WatchedSocket(socket, labels, isBusy, this.now());
    this.watched.add(watched);
    socket.on('ping', () => this.admitMessage(watched));
    socket.on('pong', () => {
      watched.awaitingPong = false;
      this.admitMessage(watched);
    });
    socket.once('close', () => this.watched.delete(watched));
    return watched;
  }

  /** Counts one message from the peer; false once it is over its rate (then it is closing). */
  admitMessage(watched: WatchedSocket): boolean {
    if (watched.ending) return false;
    const now = this.now();
    if (now - watched.windowStart >= RATE_WINDOW_MS) {
      watched.windowStart = now;
      watched.messagesInWindow = 0;
    }
    if (++watched.messagesInWindow <= this.limits.maxMessagesPerSecond) return true;
    this.end(watched, 'message-rate');
    return false;
  }

  /**
   * Before each send: a peer that has left more than `maxBufferedBytes` unread is terminated
   * (sends wait for the previous write of the same operation, so what piles up is one frame per
   * operation; a fully stalled peer is found by the keep-alive instead).
   */
  roomToSend(watched: WatchedSocket): boolean {
    if (watched.socket.bufferedAmount <= this.limits.maxBufferedBytes) return true;
    this.end(watched, 'slow-consumer');
    return false;
  }

  /** An operation started or ended: the idle clock starts over. */
  touch(watched: WatchedSocket): void {
    watched.idleSince = this.now();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
  }

  private sweep(): void {
    const now = this.now();
    const { pingIntervalMs, pongTimeoutMs, idleTimeoutMs } = this.limits;
    // A late sweep means the loop was held: pongs that arrived meanwhile are still unread
    // (timers run before the poll phase reads the sockets), and judging them now terminated every
    // healthy peer of a saturated instance at once. Their clocks move on by the time held.
    const held = now - this.lastSweepAt - this.sweepMs;
    this.lastSweepAt = now;
    for (const watched of this.watched) {
      if (held > HELD_TOLERANCE_MS && watched.awaitingPong) watched.pingedAt += held;
      if (watched.ending) {
        if (now - watched.endedAt >= CLOSE_HANDSHAKE_MS) watched.socket.terminate();
        continue;
      }
      if (watched.socket.readyState !== watched.socket.OPEN) continue;
      if (watched.awaitingPong) {
        if (now - watched.pingedAt >= pongTimeoutMs) {
          this.end(watched, 'missed-pong');
          continue;
        }
      } else if (now - watched.pingedAt >= pingIntervalMs) {
        watched.awaitingPong = true;
        watched.pingedAt = now;
        watched.socket.ping();
      }
      if (watched.isBusy()) watched.idleSince = now;
      else if (now - watched.idleSince >= idleTimeoutMs) this.end(watched, 'idle');
    }
  }

  private end(watched: WatchedSocket, reason: GuardReason): void {
    watched.ending = true;
    watched.endedAt = this.now();
    this.closedBy[reason]++;
    const level = reason === 'idle' ? 'debug' : 'info';
    this.log[level]({ reason, ...watched.labels }, 'websocket closed');
    if (reason === 'idle') watched.socket.close(1000, 'Idle timeout');
    else if (reason === 'message-rate') watched.socket.close(4429, 'Too many messages');
    // The peer reads nothing: a close frame would wait behind what it has not read.
    else watched.socket.terminate();
  }
}
