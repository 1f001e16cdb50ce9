import { BlockList, isIP } from 'node:net';

/**
 * The caller's address. `X-Forwarded-For` is believed only from a peer inside TRUSTED_PROXIES,
 * and then only as far as the chain stays inside them: the first address from the right that
 * is not a trusted proxy is the client (so a client cannot spoof it by sending the header).
 */
export class ClientIpResolver {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const entry of trustedProxies) {
      const [address = '', bits] = entry.split('/');
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.trusted.addAddress(address, type);
      else this.trusted.addSubnet(address, Number(bits), type);
    }
    this.any = trustedProxies.length > 0;
  }

  resolve(peer: string | undefined, forwardedFor: string | string[] | null | undefined): string {
    let client = normalize(peer ?? '') || 'unknown';
    if (!this.any || !forwardedFor || !this.isTrusted(client)) return client;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((hop) => normalize(hop.trim()));
    for (let index = hops.length - 1; index >= 0; index--) {
      const hop = hops[index]!;
      if (!isIP(hop)) return client;
      client = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    return client;
  }

  private isTrusted(address: string): boolean {
    const version = isIP(address);
    if (version === 0) return false;
    return this.trusted.check(address, version === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:10.0.0.1` is the IPv4 address it maps. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}
