import { isIP } from 'node:net';

/**
 * The address guard: which IP addresses a URL that arrived through the API may lead to. Every address is one 128-bit
 * number, IPv4 as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so that one table of ranges covers both.
 */

interface Range {
  prefix: bigint;
  bits: number;
}

const MAPPED = 0xffffn << 32n;
const ALL = (1n << 128n) - 1n;
const IPV4 = 0xffffffffn;

function ipv4(text: string): bigint {
  return text.split('.').reduce((n, part) => (n << 8n) | BigInt(part), 0n);
}

function ipv6(text: string): bigint {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  const hex = dotted ? `${text.slice(0, dotted.index)}${(ipv4(dotted[1]!) >> 16n).toString(16)}:${(ipv4(dotted[1]!) & 0xffffn).toString(16)}` : text;
  const [head = '', tail] = hex.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((n, group) => (n << 16n) | BigInt(`0x${group}`), 0n);
}

/** An IP address (IPv4, IPv6, bracketed, with a zone) as a number; undefined when it is not one. */
export function parseAddress(text: string): bigint | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  switch (isIP(bare)) {
    case 4: return MAPPED | ipv4(bare);
    case 6: return ipv6(bare);
    default: return undefined;
  }
}

function isIpv4(address: bigint): boolean {
  return address >> 32n === 0xffffn;
}

/** An IPv6 form of an IPv4 address is named by the address it leads to as well. */
function dotted(address: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => (address >> shift) & 0xffn).join('.');
}

/** A CIDR range (10.0.0.0/8, ::1, fc00::/7); a bare address is a range of one. */
export function parseRange(text: string): Range {
  const [address = '', bits] = text.split('/');
  const prefix = parseAddress(address);
  if (prefix === undefined) throw new Error(`not an IP address or CIDR range: ${text}`);
  const v4 = isIP(address) === 4;
  const length = bits === undefined ? 128 : Number(bits) + (v4 ? 96 : 0);
  return { prefix: prefix & mask(length), bits: length };
}

function mask(bits: number): bigint {
  return (ALL << BigInt(128 - bits)) & ALL;
}

function inRange(address: bigint, range: Range): boolean {
  return (address & mask(range.bits)) === range.prefix;
}

/** Where no URL from the API may lead, with what each range is, for the refusal's words. */
const REFUSED: Array<[string, string]> = [
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a shared (CGNAT) address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.88.99.0/24', 'a 6to4 relay address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['255.255.255.255/32', 'the broadcast address'],
  ['240.0.0.0/4', 'a reserved address'],
  ['::/128', 'the unspecified address'],
  ['::1/128', 'the loopback address'],
  ['64:ff9b:1::/48', 'a local NAT64 address'],
  ['100::/64', 'a discard address'],
  ['2001::/32', 'a Teredo address'],
  ['2001:2::/48', 'a benchmarking address'],
  ['2001:db8::/32', 'a documentation address'],
  ['3fff::/20', 'a documentation address'],
  ['fc00::/7', 'a unique-local address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
];
const REFUSED_RANGES = REFUSED.map(([range, what]) => ({ ...parseRange(range), what }));

/** IPv6 forms that carry an IPv4 address, which is where they lead: compatible, translated, NAT64, 6to4. */
const CARRIERS: Array<{ range: Range; embedded: (address: bigint) => bigint }> = [
  { range: parseRange('::/96'), embedded: (a) => a & IPV4 },
  { range: parseRange('::ffff:0:0:0/96'), embedded: (a) => a & IPV4 },
  { range: parseRange('64:ff9b::/96'), embedded: (a) => a & IPV4 },
  { range: parseRange('2002::/16'), embedded: (a) => (a >> 80n) & IPV4 },
];

/** The IPv4 address an IPv6 one carries, as its mapped form; the address itself otherwise. */
function unwrap(address: bigint): bigint {
  const carrier = CARRIERS.find((c) => inRange(address, c.range));
  return carrier ? MAPPED | carrier.embedded(address) : address;
}

function refusedAs(address: bigint): string | undefined {
  return REFUSED_RANGES.find((range) => inRange(address, range))?.what;
}

/**
 * Decides on addresses: refused ranges are refused, whatever form the address takes, unless an allowed range
 * (ONAIR_ALLOWED_PRIVATE_ADDRESSES) holds it in either form.
 */
export class AddressGuard {
  readonly #allowed: Range[];

  constructor(allowed: readonly string[]) {
    this.#allowed = allowed.map(parseRange);
  }

  /** Why `address` is refused ("a loopback address"), or undefined when it is allowed. */
  refusal(address: string): string | undefined {
    const raw = parseAddress(address);
    if (raw === undefined) return 'not an IP address';
    const carried = unwrap(raw);
    if (this.#allowed.some((range) => inRange(raw, range) || inRange(carried, range))) return undefined;
    const own = refusedAs(raw);
    if (own !== undefined) return address.includes(':') && isIpv4(raw) ? `${own} (${dotted(raw)})` : own;
    const carriedAs = refusedAs(carried);
    return carriedAs && `${carriedAs} (${dotted(carried)})`;
  }
}
