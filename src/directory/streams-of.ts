import type { LocalLoad } from '../gate/contract.ts';
import type { NodeStream } from './contract.ts';

/** The streams a node reports: each channel it has on air (its origin) or relays (an edge), in the stream manager's words. */
export function streamsOf(load: LocalLoad, scope: string): NodeStream[] {
  return load.channels.filter((channel) => channel.publishing || channel.relaying).map((channel) => ({
    name: channel.channel,
    scope: `/${scope}`,
    carriedAs: channel.publishing ? 'origin' : 'edge',
    publishers: channel.publishing ? 1 : 0,
    subscribers: channel.listeners,
    startTime: channel.since,
    instance: channel.instance,
  }));
}
