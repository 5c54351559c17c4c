/**
 * The choice of a node for a lookup (seed 003): which origin a broadcaster publishes to, which node a subscriber plays
 * from. Pure: the nodes, where the stream is and the random source are given, so that every rule can be tested alone.
 */

import type { DirectoryNode } from './contract.ts';

export type Action = 'broadcast' | 'subscribe';

export interface Lookup {
  action: Action;
  /** `scope/name`, for messages. */
  stream: string;
  region?: string;
  geozone?: string;
  /** Nothing outside the region (or the geozone when one is asked). */
  strict?: boolean;
  /** How many nodes to answer, best first (1 when omitted). */
  endpoints?: number;
  /** Rank every candidate, not only as many tiers as the answer needs. */
  explain?: boolean;
}

/** Where a stream is now: the node holding its session (null when none publishes), and every node carrying it. */
export interface Placement {
  origin: string | null;
  carriers: { has(node: string): boolean };
}

/** `region`: in the region asked; `geozone`: in the geozone asked, or in the asked region's; `any`: nothing asked. */
export type Tier = 'region' | 'geozone' | 'other' | 'any';
const TIER_ORDER: readonly Tier[] = ['region', 'any', 'geozone', 'other'];

export interface Candidate {
  node: string;
  region: string;
  tier: Tier;
  /** (subscribers + publishers + pending) / capacity. */
  load: number;
  carrying: boolean;
  /** The rank within its tier, lowest first: the load, less CARRYING_AHEAD when the node carries the stream. */
  score: number;
}

export interface LeftOut {
  node: string;
  rule: string;
}

export interface Explanation {
  /** Best first: every candidate when the lookup explains, else those of the tiers its answer needed. */
  candidates: Candidate[];
  leftOut: LeftOut[];
}

export type Choice =
  | { nodes: DirectoryNode[]; explanation: Explanation }
  | { refusal: { status: 404 | 503; message: string }; explanation: Explanation };

/** A node that carries the stream ranks ahead of one that would start a relay when their loads are this close. */
export const CARRYING_AHEAD = 0.05;

/** In [0, 1). */
export type Random = () => number;

/** Lookups answered for a node since its last report, so that a burst spreads between two reports. */
export class Pending {
  #counts = new Map<string, { reportedAt: number; count: number }>();

  of(node: DirectoryNode): number {
    const counted = this.#counts.get(node.id);
    return counted !== undefined && counted.reportedAt === node.reportedAt ? counted.count : 0;
  }

  answered(node: DirectoryNode): void {
    this.#counts.set(node.id, { reportedAt: node.reportedAt, count: this.of(node) + 1 });
  }
}

/** Clients on a node now, with the lookups answered for it that its report does not show yet. */
/** What the node carries against its capacity: listeners and sources, with the lookups answered since its report. */
const clients = (node: DirectoryNode, pending: number) => node.report.subscribers + node.report.publishers + pending;
/** The capacity is in listeners: a node's sources do not fill it. */
const listeners = (node: DirectoryNode, pending: number) => node.report.subscribers + pending;

/** The first rule that keeps `node` from serving the lookup, if any (capacity apart). */
function ruleAgainst(node: DirectoryNode, lookup: Lookup, placement: Placement | undefined): string | undefined {
  if (node.state !== 'INSERVICE') return `state: ${node.state}, not INSERVICE`;
  const carrying = placement?.carriers.has(node.id) ?? false;
  if (lookup.action === 'broadcast') {
    if (!node.roles.includes('origin')) return 'role: not an origin';
    const origin = placement?.origin;
    if (origin && origin !== node.id) return `on air: ${lookup.stream} is on air on ${origin}`;
  } else if (!carrying && !node.roles.includes('edge')) {
    return 'role: not carrying the stream and not an edge';
  }
  if (lookup.strict && lookup.region !== undefined && node.region !== lookup.region) return `region strict: not in ${lookup.region}`;
  if (lookup.strict && lookup.geozone !== undefined && node.geozone !== lookup.geozone) return `geozone strict: not in ${lookup.geozone}`;
  return undefined;
}

/** The geozone of the asked region: that of a node in it. */
function geozoneOf(region: string, nodes: readonly DirectoryNode[]): string | null {
  return nodes.find((node) => node.region === region && node.geozone !== null)?.geozone ?? null;
}

function tierOf(node: DirectoryNode, lookup: Lookup, regionZone: string | null): Tier {
  if (lookup.region !== undefined) {
    if (node.region === lookup.region) return 'region';
    return regionZone !== null && node.geozone === regionZone ? 'geozone' : 'other';
  }
  if (lookup.geozone !== undefined) return node.geozone === lookup.geozone ? 'geozone' : 'other';
  return 'any';
}

function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const byScore = (a: Candidate, b: Candidate) => a.score - b.score || (a.node < b.node ? -1 : 1);

/** The `count` best of `items`, best first, in one pass (a lookup needs a few of a hundred). */
function lowest(items: Candidate[], count: number): Candidate[] {
  const kept: Candidate[] = [];
  for (const item of items) {
    if (kept.length === count && byScore(item, kept[count - 1]!) >= 0) continue;
    let at = kept.length;
    while (at > 0 && byScore(item, kept[at - 1]!) < 0) at--;
    kept.splice(at, 0, item);
    if (kept.length > count) kept.pop();
  }
  return kept;
}

/**
 * A tier best first, as far as `wanted` (every one for Infinity): those of its best max(ceil(0.1·n), 2) whose score is
 * within CARRYING_AHEAD of the best one (tied) are shuffled, so that equal nodes share a burst, then the rest by score.
 */
function ranked(tier: Candidate[], wanted: number, random: Random): Candidate[] {
  const best = Math.max(Math.ceil(0.1 * tier.length), 2);
  const sorted = wanted === Infinity ? [...tier].sort(byScore) : lowest(tier, Math.max(best, wanted));
  const tied = sorted.slice(0, best).filter((candidate) => candidate.score - sorted[0]!.score <= CARRYING_AHEAD).length;
  return [...shuffle(sorted.slice(0, tied), random), ...sorted.slice(tied)];
}

/** Why a subscriber cannot play the stream: nobody publishes it, or its origin is gone (no relay could reach it). */
function notPublishing(lookup: Lookup, placement: Placement | undefined, nodes: readonly DirectoryNode[]): string | undefined {
  if (!placement?.origin) return `Stream ${lookup.stream} is not publishing`;
  const origin = nodes.find((node) => node.id === placement.origin);
  if (origin?.state === 'FAULT' || origin?.state === 'STOPPED') return `Stream ${lookup.stream} is not publishing: its origin ${origin.id} is ${origin.state}`;
  return undefined;
}

function refusal(lookup: Lookup, eligible: number): { status: 404 | 503; message: string } {
  const where = lookup.strict ? (lookup.region !== undefined ? ` in region ${lookup.region}` : ` in geozone ${lookup.geozone}`) : '';
  const what = lookup.action === 'broadcast' ? `an origin for ${lookup.stream}` : `a node to play ${lookup.stream} from`;
  if (eligible > 0) return { status: 503, message: `Every node in service${where} that could be ${what} is at capacity` };
  if (lookup.strict) return { status: 404, message: `No node in service${where} can be ${what}` };
  return { status: 503, message: `No node in service can be ${what}` };
}

/**
 * The nodes for `lookup`, best first: in service, of the role, by tier (the region asked, its geozone, the others),
 * never at capacity, ranked by load with the best of a tier shuffled. A subscriber of a stream not publishing is a 404.
 */
export function choose(lookup: Lookup, nodes: readonly DirectoryNode[], placement: Placement | undefined, random: Random,
  pending: (node: DirectoryNode) => number = () => 0): Choice {
  const leftOut: LeftOut[] = [];
  if (lookup.action === 'subscribe') {
    const silent = notPublishing(lookup, placement, nodes);
    if (silent !== undefined) return { refusal: { status: 404, message: silent }, explanation: { candidates: [], leftOut } };
  }
  const regionZone = lookup.region === undefined ? null : geozoneOf(lookup.region, nodes);
  const tiers = new Map<Tier, DirectoryNode[]>();
  let eligible = 0;
  for (const node of nodes) {
    const rule = ruleAgainst(node, lookup, placement);
    if (rule !== undefined) {
      leftOut.push({ node: node.id, rule });
      continue;
    }
    eligible++;
    const count = listeners(node, pending(node));
    if (count >= node.capacity) {
      leftOut.push({ node: node.id, rule: `capacity: ${count} of ${node.capacity} listeners` });
      continue;
    }
    const tier = tierOf(node, lookup, regionZone);
    const members = tiers.get(tier);
    if (members) members.push(node);
    else tiers.set(tier, [node]);
  }
  if (tiers.size === 0) return { refusal: refusal(lookup, eligible), explanation: { candidates: [], leftOut } };
  const wanted = lookup.endpoints ?? 1;
  const scored = (node: DirectoryNode, tier: Tier): Candidate => {
    const load = clients(node, pending(node)) / node.capacity;
    const carrying = placement?.carriers.has(node.id) ?? false;
    return { node: node.id, region: node.region, tier, load, carrying, score: load - (carrying ? CARRYING_AHEAD : 0) };
  };
  const order = inOrder(tiers, lookup.explain ? Infinity : wanted, scored, random);
  const chosen = order.slice(0, wanted).map((c) => nodes.find((node) => node.id === c.node)!);
  return { nodes: chosen, explanation: { candidates: order, leftOut } };
}

/** The candidates best first, tier after tier, as far as the tier that makes `wanted` of them: only those are scored. */
function inOrder(tiers: Map<Tier, DirectoryNode[]>, wanted: number, scored: (node: DirectoryNode, tier: Tier) => Candidate, random: Random): Candidate[] {
  const order: Candidate[] = [];
  for (const tier of TIER_ORDER) {
    if (order.length >= wanted) break;
    order.push(...ranked((tiers.get(tier) ?? []).map((node) => scored(node, tier)), wanted - order.length, random));
  }
  return order;
}
