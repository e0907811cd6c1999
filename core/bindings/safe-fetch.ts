/**
 * Outgoing HTTP for downloads a client asked for (`install_model`): only public addresses, plus what the
 * operator allows (`install_allowed_hosts`), checked on the address the socket really connects to, so a host
 * name that resolves to a public address when checked and to 127.0.0.1 when used (DNS rebinding) is refused
 * too, and so is every redirect hop (each one connects anew through the same agent).
 *
 * ipaddr.js classifies addresses (loopback, private, link-local, CGNAT, unique-local, multicast, reserved,
 * IPv4-mapped IPv6 ...): a table kept by a library used by Express and most of the npm ecosystem beats a
 * hand-written list of ranges. undici (the code behind Node's own `fetch`) lets us plug the check into its
 * connector.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { createError } from '../errors.js';

/** A connection the address policy refused (the message is for the log; clients get a generic one). */
export const AddressRefused = createError('LH_ERR_INSTALL_ADDRESS');

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Which addresses a download may connect to: public unicast addresses always; more when the operator lists
 * them: a host name (any address it resolves to), an address, or a CIDR range (`10.0.0.0/8`, `fd00::/8`).
 */
export class AddressPolicy {
  readonly #hosts: Set<string>;
  readonly #ranges: Range[];

  private constructor(hosts: Set<string>, ranges: Range[]) {
    this.#hosts = hosts;
    this.#ranges = ranges;
  }

  /** Parse `install_allowed_hosts`; throws on an entry that is neither a name, an address nor a range. */
  static from(entries: readonly string[] = []): AddressPolicy {
    const hosts = new Set<string>();
    const ranges: Range[] = [];
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
      if (entry.includes('/')) {
        try {
          const [address, bits] = ipaddr.parseCIDR(entry);
          ranges.push([normalize(address), address.kind() === 'ipv6' && normalize(address).kind() === 'ipv4' ? Math.max(0, bits - 96) : bits]);
        } catch {
          throw AddressRefused(`install_allowed_hosts: "${raw}" is not a CIDR range`);
        }
      } else if (ipaddr.isValid(entry)) {
        const address = normalize(ipaddr.parse(entry));
        ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
        hosts.add(entry.replace(/\.$/, ''));
      } else {
        throw AddressRefused(`install_allowed_hosts: "${raw}" is not a host name, an address or a CIDR range`);
      }
    }
    return new AddressPolicy(hosts, ranges);
  }

  /** Whether the operator allowed this host name as such (then any address it resolves to is fine). */
  allowsName(hostname: string): boolean {
    return this.#hosts.has(hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, ''));
  }

  /** Whether a connection to `address` (an IP) is allowed: public unicast, or inside an allowed range. */
  allowsAddress(address: string): boolean {
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      parsed = normalize(ipaddr.parse(address.replace(/^\[|\]$/g, '').replace(/%.*$/, '')));
    } catch {
      return false;
    }
    if (parsed.range() === 'unicast') return true;
    return this.#ranges.some(([base, bits]) => base.kind() === parsed.kind() && parsed.match(base as never, bits));
  }

  /** Whether `hostname` may be connected to at `address`. */
  allows(hostname: string, address: string): boolean {
    return this.allowsName(hostname) || this.allowsAddress(address);
  }
}

/** IPv4-mapped IPv6 (`::ffff:127.0.0.1`) as the IPv4 address it is. */
function normalize(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

/** The resolver the guard uses; tests hand in their own to play DNS rebinding. */
export type Resolver = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** Options of `guardedFetch`. */
export interface GuardedFetchOptions {
  /** Who may be connected to. */
  policy: AddressPolicy;
  /** Name resolution; default `dns.lookup` (the system resolver). */
  resolve?: Resolver;
  /** Time to connect and receive the response headers, in ms. Default 30000. */
  headersTimeoutMs?: number;
  /** Longest pause between two body chunks, in ms. Default 60000. */
  bodyTimeoutMs?: number;
}

/**
 * A `fetch` whose every connection goes through `policy`: the host name is resolved by our lookup, addresses the
 * policy refuses are dropped (none left: `AddressRefused`), and the connected socket's remote address is checked
 * once more (an address literal in a URL never goes through a lookup). Dispose the returned agent with `close()`.
 */
export function guardedFetch(options: GuardedFetchOptions): { fetch: typeof fetch; close(): Promise<void> } {
  const { policy } = options;
  const resolve: Resolver = options.resolve ?? ((hostname, opts, callback) => dnsLookup(hostname, opts, callback));
  const lookup = (hostname: string, opts: { family?: number; all?: boolean } | number, callback: (...args: unknown[]) => void) => {
    const family = typeof opts === 'number' ? opts : (opts.family ?? 0);
    resolve(hostname, { all: true, family: family === 4 || family === 6 ? family : 0 }, (error, addresses) => {
      if (error) return callback(error);
      const usable = addresses.filter((a) => policy.allows(hostname, a.address));
      if (usable.length === 0) return callback(AddressRefused(`${hostname} resolves to ${addresses.map((a) => a.address).join(', ') || 'nothing'}: not a public address, and not in install_allowed_hosts`));
      if (typeof opts === 'object' && opts.all) return callback(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
  const base = buildConnector({ lookup: lookup as never, timeout: options.headersTimeoutMs ?? 30_000 });
  const connector: buildConnector.connector = (connectOptions, callback) => {
    const hostname = connectOptions.hostname.replace(/^\[|\]$/g, '');
    // An address literal never goes through lookup: refuse it before any packet is sent.
    if (isIP(hostname) && !policy.allows(hostname, hostname)) {
      callback(AddressRefused(`${hostname} is not a public address, and not in install_allowed_hosts`), null);
      return;
    }
    base(connectOptions, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('no socket'), null);
      const remote = (socket as Socket).remoteAddress;
      if (remote === undefined || !policy.allows(hostname, remote)) {
        socket.destroy();
        callback(AddressRefused(`${hostname} connected to ${remote ?? 'an unknown address'}: not a public address, and not in install_allowed_hosts`), null);
        return;
      }
      callback(null, socket);
    });
  };
  const agent = new Agent({
    connect: connector,
    headersTimeout: options.headersTimeoutMs ?? 30_000,
    bodyTimeout: options.bodyTimeoutMs ?? 60_000,
  });
  const guarded = ((input: string | URL, init: RequestInit = {}) =>
    undiciFetch(input, { ...(init as object), dispatcher: agent } as never)) as unknown as typeof fetch;
  return { fetch: guarded, close: () => agent.close() };
}
