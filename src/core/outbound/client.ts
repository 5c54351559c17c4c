import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { OutboundFailure } from './contract.ts';
import { AddressGuard, parseAddress } from './address.ts';

/** Why an attempt got no answer; `answer` when the headers came before it failed (a body too large). */
export class Failure extends Error {
  readonly failure: OutboundFailure;
  readonly answer: Answer | undefined;

  constructor(failure: OutboundFailure, message: string, answer?: Answer) {
    super(message);
    this.failure = failure;
    this.answer = answer;
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  /** Empty until the whole body came. */
  body: Buffer;
}

/** An address that was checked, for the connection to go to it and nowhere else. */
export interface Pinned {
  address: string;
  family: number;
}

/** An http: or https: URL, or why not. */
export function webUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute http or https URL';
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : `must be an http or https URL, not ${url.protocol.slice(0, -1)}`;
}

/**
 * Where the URL's host leads, once every address it resolves to passed the guard: a literal address as it is (WHATWG
 * parsing already read 2130706433, 0x7f.1 or 127.1 as 127.0.0.1), a name through the resolver. Throws a Failure:
 * `refused-address` naming the first refused address, `send` when the name does not resolve.
 */
export async function destination(url: URL, guard: AddressGuard, resolver: Resolver): Promise<Pinned> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = parseAddress(host) !== undefined;
  const addresses = literal ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await resolve(resolver, host);
  for (const { address } of addresses) {
    const refusal = guard.refusal(address);
    if (refusal !== undefined) {
      const where = literal ? address : `${host} resolves to ${address}`;
      throw new Failure('refused-address', `${where}, ${refusal}, which ONAIR_ALLOWED_PRIVATE_ADDRESSES does not allow`);
    }
  }
  return addresses[0]!;
}

/** Every address a host name resolves to. */
export type Resolver = (host: string) => Promise<Pinned[]>;

export const systemResolver: Resolver = (host) => lookup(host, { all: true });

async function resolve(resolver: Resolver, host: string): Promise<Pinned[]> {
  try {
    const addresses = await resolver(host);
    if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENODATA' });
    return addresses;
  } catch (error) {
    throw new Failure('send', `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
  }
}

/** The resolver of a request that must connect to `pinned` only: whatever the host's name resolves to by then. */
function pinTo(pinned: Pinned): LookupFunction {
  return (_host, options, callback) => {
    if (options.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
}

export interface Exchange {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  maxBytes: number;
  signal: AbortSignal;
  /** Undefined: the system's resolver (an operator's URL). */
  pinned: Pinned | undefined;
}

/**
 * One request and its answer, redirects included as answers. No agent: a connection is never shared, so none made
 * for one URL (or trust) carries another's request. TLS checks the certificate against the URL's host name.
 */
export function exchange(url: URL, options: Exchange): Promise<Answer> {
  const { request } = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const outgoing = request(url, {
      method: options.method, headers: options.headers, signal: options.signal, agent: false,
      ...(options.pinned ? { lookup: pinTo(options.pinned) } : {}),
    }, (incoming) => {
      const answer: Answer = { status: incoming.statusCode!, headers: flatten(incoming.headers), body: Buffer.alloc(0) };
      const tooLarge = () => {
        outgoing.destroy();
        reject(new Failure('too-large', `the answer is larger than ${options.maxBytes} bytes`, answer));
      };
      if (Number(incoming.headers['content-length']) > options.maxBytes) return tooLarge();
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) tooLarge();
        else chunks.push(chunk);
      });
      incoming.on('end', () => resolve({ ...answer, body: Buffer.concat(chunks) }));
      incoming.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

function flatten(headers: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value ?? '']));
}
