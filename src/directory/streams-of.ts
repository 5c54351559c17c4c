import type { LocalLoad } from '../gate/contract.ts';
import type { NodeStream } from './contract.ts';

/**
 * The streams a node carries, as its report names them: the channels on air here (origin) or relayed here (edge). A
 * channel only listened to between shows (its fallback) is no stream: nobody publishes it.
 */
export function streamsOf(load: LocalLoad, scope: string): NodeStream[] {
  return load.channels.filter((channel) => channel.publishing || channel.relaying).map((channel) => ({
    name: channel.channel, scope: `/${scope}`, carriedAs: channel.publishing ? 'origin' : 'edge', publishers: channel.publishing ? 1 : 0,
    subscribers: channel.listeners, startTime: channel.since, instance: channel.instance,
  }));
}
