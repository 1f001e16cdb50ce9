import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/** Which bytes a blackhole holds back: everything, or only what the target sends back. */
export type BlackholeDirection = 'both' | 'replies';

interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy from a loopback port of its own to `target`, for faults toxiproxy would inject.
 * `blackhole()` stops forwarding while every socket stays open, as a partitioned network does:
 * bytes are held, not dropped (TCP would retransmit them), so a stream is never cut mid-frame,
 * and what was held reaches the other side once `heal()` is called, even for a connection the
 * client has given up on meanwhile (a late request, as after a real partition). Connections
 * opened during a blackhole are accepted and held too. `reset()` destroys every connection.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private holding: BlackholeDirection | undefined;
  /** Each sees every chunk a client sends; one that answers 'cut' kills its connection. */
  private readonly requestWatchers = new Set<(chunk: Buffer) => 'cut' | undefined>();
  /** Connections accepted so far: a client that gave up on a stalled one opens another. */
  accepted = 0;
  port = 0;

  constructor(private readonly target: { host?: string; port: number }) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops forwarding (both ways, or only the target's replies); sockets stay open. */
  blackhole(direction: BlackholeDirection = 'both'): void {
    this.holding = direction;
    for (const pair of this.pairs) this.hold(pair);
  }

  /** Forwards again, starting with what was held. */
  heal(): void {
    this.holding = undefined;
    for (const { client, upstream } of this.pairs) {
      client.resume();
      upstream.resume();
    }
  }

  /** Destroys every open connection, both sides. */
  reset(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
  }

  /**
   * Resolves once a client has sent, from now on, one chunk containing every one of `texts` (a
   * command's name and key, say): proof that a request is on the wire.
   */
  sent(texts: string | string[], timeoutMs = 5_000): Promise<void> {
    return this.awaitRequest(typeof texts === 'string' ? [texts] : texts, timeoutMs, undefined);
  }

  /**
   * Resolves once a client has sent a chunk containing every one of `texts`, after destroying
   * that connection (both sides) instead of forwarding the chunk: the request was written, and
   * its connection died before any reply, as when Redis is killed under it.
   */
  cutOn(texts: string[], timeoutMs = 5_000): Promise<void> {
    return this.awaitRequest(texts, timeoutMs, 'cut');
  }

  private awaitRequest(
    wanted: string[],
    timeoutMs: number,
    verdict: 'cut' | undefined,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requestWatchers.delete(watch);
        reject(new Error(`no client sent ${JSON.stringify(wanted)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const watch = (chunk: Buffer) => {
        if (!wanted.every((text) => chunk.includes(text))) return undefined;
        clearTimeout(timer);
        this.requestWatchers.delete(watch);
        resolve();
        return verdict;
      };
      this.requestWatchers.add(watch);
    });
  }

  async close(): Promise<void> {
    this.reset();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    const upstream = connect(this.target.port, this.target.host ?? '127.0.0.1');
    const pair = { client, upstream };
    this.pairs.add(pair);
    // Not pipe(): its backpressure handling would resume a socket the blackhole paused. A paused
    // socket is not read, so its bytes wait in the kernel until heal().
    forward(client, upstream, (chunk) => {
      let cut = false;
      for (const watch of this.requestWatchers) if (watch(chunk) === 'cut') cut = true;
      if (!cut) return true;
      client.destroy();
      upstream.destroy();
      return false;
    });
    forward(upstream, client);
    let open = 2;
    const closed = () => {
      if (--open === 0) this.pairs.delete(pair);
    };
    client.on('close', closed);
    upstream.on('close', closed);
    if (this.holding) this.hold(pair);
  }

  private hold({ client, upstream }: Pair): void {
    upstream.pause();
    if (this.holding === 'both') client.pause();
  }
}

/**
 * Copies `from` into `to`; an end is passed on after what came before it, an error cuts both. A
 * chunk `onData` answers false for is not passed on.
 */
function forward(from: Socket, to: Socket, onData?: (chunk: Buffer) => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (onData && !onData(chunk)) return;
    to.write(chunk);
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
  from.on('close', () => {
    if (!to.writableEnded) to.end();
  });
}
