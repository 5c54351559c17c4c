import { useMemo, useRef, useState } from 'react';
import { api, get, getAll } from '../api.ts';
import { ConfirmButton } from '../confirm.tsx';
import { useLive, type LiveEvent } from '../live.ts';
import type { ProgrammeEvent, Show } from '../programme.ts';
import { AudienceChart } from './audience-chart.tsx';
import { Badge, Empty, formatBytes, Page, Refusal, Time, useAction, useStation } from '../ui.tsx';
import './nodes.css';

type NodeState = 'STARTED' | 'INSERVICE' | 'SOFT_SUNSET' | 'FAULT' | 'STOPPED';
interface NodeStream {
  name: string;
  scope: string;
  carriedAs: 'origin' | 'edge';
  publishers: number;
  subscribers: number;
  startTime: number;
  instance: { event: string; start: string } | null;
}
interface DirectoryNode {
  id: string;
  address: string;
  url: string;
  region: string;
  geozone: string | null;
  roles: Array<'origin' | 'edge'>;
  capacity: number;
  state: NodeState;
  drained: boolean;
  startedAt: number;
  reportedAt: number;
  stateChangedAt: number;
  report: { streams: NodeStream[]; publishers: number; subscribers: number; cpuLoad: number; bytesIn: number; bytesOut: number };
}
interface InstanceAudience {
  event: string;
  start: string;
  peakListeners: number;
  peakAt: number;
  averageListeners: number;
  listenerMinutes: number;
  regions: Record<string, number>;
}
interface Region { name: string; geozones: string[]; nodes: DirectoryNode[] }

// Each report is a lossy node-reported (every ONAIR_NODE_REPORT_INTERVAL), each state change a node-changed.
const NODE_EVENTS = ['node-changed', 'node-reported'];
const AUDIENCE_EVENTS = ['stream-publishing', 'stream-ended', 'stream-failed', 'programme-changed'];

function byRegion(nodes: DirectoryNode[]): Region[] {
  const regions = new Map<string, Region>();
  for (const node of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    const region = regions.get(node.region) ?? { name: node.region, geozones: [], nodes: [] };
    if (node.geozone !== null && !region.geozones.includes(node.geozone)) region.geozones.push(node.geozone);
    region.nodes.push(node);
    regions.set(node.region, region);
  }
  return [...regions.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const loadNodes = (signal: AbortSignal) => get<DirectoryNode[]>('/directory/nodes', signal).then(byRegion);

/** The audience of the day before now, each instance with its show's title. */
async function loadAudience(signal: AbortSignal): Promise<{ audiences: InstanceAudience[]; titles: Record<string, string>; readAt: string }> {
  const readAt = new Date().toISOString();
  const { audiences } = await get<{ audiences: InstanceAudience[] }>('/directory/audience', signal);
  if (audiences.length === 0) return { audiences, titles: {}, readAt };
  const [shows, events] = await Promise.all([
    getAll<Show>('/shows', 'shows', signal),
    Promise.all([...new Set(audiences.map((audience) => audience.event))].map((id) => get<ProgrammeEvent>(`/events/${id}`, signal).catch(() => undefined))),
  ]);
  const showTitles = Object.fromEntries(shows.map((show) => [show.id, show.title]));
  const titles = Object.fromEntries(events.filter((event) => event !== undefined).map((event) => [event.id, showTitles[event.showId] ?? 'Untitled show']));
  return { audiences, titles, readAt };
}

interface NodeReported { node: string; publishers: number; subscribers: number; streams: number; at: number }

/** A node as its last report tells it: the figures of a node-reported applied to the node as last read. */
const withReport = (node: DirectoryNode, reported: NodeReported | undefined): DirectoryNode =>
  reported === undefined || reported.at <= node.reportedAt ? node
    : { ...node, reportedAt: reported.at, report: { ...node.report, publishers: reported.publishers, subscribers: reported.subscribers } };

/**
 * The directory, live: a node-reported (every node, every ONAIR_NODE_REPORT_INTERVAL) updates its node's figures in
 * place; the nodes are read again only when a node changes state or the number of streams it carries changes.
 */
function useDirectory() {
  const [reports, setReports] = useState<Record<string, NodeReported>>({});
  const known = useRef<Region[] | undefined>(undefined);
  const onEvent = (event: LiveEvent): boolean => {
    if (event.type !== 'node-reported') return false;
    const reported = event.data as unknown as NodeReported;
    const node = known.current?.flatMap((region) => region.nodes).find((candidate) => candidate.id === reported.node);
    if (node === undefined || node.report.streams.length !== reported.streams) return false;
    setReports((current) => ({ ...current, [reported.node]: reported }));
    return true;
  };
  const nodes = useLive(loadNodes, NODE_EVENTS, [], onEvent);
  known.current = nodes.data;
  const data = nodes.data?.map((region) => ({ ...region, nodes: region.nodes.map((node) => withReport(node, reports[node.id])) }));
  return { ...nodes, data };
}

export default function Nodes() {
  const nodes = useDirectory();
  return (
    <Page title="Nodes">
      <Refusal error={nodes.error} />
      {nodes.data === undefined ? <Empty>Loading the directory…</Empty> : nodes.data.map((region) => (
        <section key={region.name} className="region" aria-labelledby={`region-${region.name}`}>
          <h2 id={`region-${region.name}`}>
            {region.name}{region.geozones.length > 0 && <span className="geozone"> · geozone {region.geozones.join(', ')}</span>}
          </h2>
          <div className="cards">
            {region.nodes.map((node) => <NodeCard key={node.id} node={node} changed={nodes.reload} />)}
          </div>
        </section>
      ))}
      <Audience />
    </Page>
  );
}

function NodeCard({ node, changed }: { node: DirectoryNode; changed(): void }) {
  const station = useStation();
  const action = useAction();
  const change = (path: string, method = 'POST') => void action.run(() => api(method, path)).then(changed);
  const path = `/directory/nodes/${encodeURIComponent(node.id)}`;
  const stopped = node.state === 'FAULT' || node.state === 'STOPPED';
  return (
    <article className="card node" aria-labelledby={`node-${node.id}`} data-state={node.state}>
      <h3 id={`node-${node.id}`}>
        {node.id}{node.id === station.node.id && <span className="self"> (this station)</span>} <Badge state={node.state} />
      </h3>
      <Load node={node} />
      <dl className="facts">
        <dt>Roles</dt><dd>{node.roles.join(', ')}</dd>
        <dt>Address</dt><dd><code>{node.address}</code></dd>
        <dt>API</dt><dd><code>{node.url}</code></dd>
        <dt>Sources</dt><dd>{node.report.publishers}</dd>
        <dt>CPU load</dt><dd>{Math.round(node.report.cpuLoad * 100)} %</dd>
        <dt>In / out</dt><dd>{formatBytes(node.report.bytesIn)} / {formatBytes(node.report.bytesOut)}</dd>
        <dt>State since</dt><dd><Time value={node.stateChangedAt} /></dd>
        <dt>Reported</dt><dd data-testid="reported"><Time value={node.reportedAt} /></dd>
      </dl>
      <Streams streams={node.report.streams} />
      <div className="actions">
        {(node.state === 'INSERVICE' || node.state === 'STARTED') && (
          <ConfirmButton label="Drain" question={`No new clients go to ${node.id}; those there stay.`} confirm={`Drain ${node.id}`}
            busy={action.busy} onConfirm={() => change(`${path}/drain`)} />
        )}
        {node.state === 'SOFT_SUNSET' && (
          <ConfirmButton label="Resume" question={`Send clients to ${node.id} again?`} confirm={`Resume ${node.id}`}
            busy={action.busy} onConfirm={() => change(`${path}/resume`)} />
        )}
        <ConfirmButton label="Remove" danger busy={action.busy} confirm={`Remove ${node.id}`}
          question={stopped ? `Remove ${node.id} from the directory?` : `${node.id} still runs: forced, it registers again at its next report.`}
          onConfirm={() => change(stopped ? path : `${path}?force=true`, 'DELETE')} />
      </div>
      <Refusal error={action.error} />
    </article>
  );
}

/** Listeners against capacity: a bar, and the figure in words. */
function Load({ node }: { node: DirectoryNode }) {
  const { subscribers } = node.report;
  const share = node.capacity > 0 ? Math.min(1, subscribers / node.capacity) : 0;
  const words = `${subscribers} of ${node.capacity} listeners`;
  return (
    <div className="load">
      <div className="meter" role="meter" aria-label={`Load of ${node.id}`} aria-valuemin={0} aria-valuemax={node.capacity} aria-valuenow={subscribers} aria-valuetext={words}>
        <span style={{ width: `${share * 100}%`, minWidth: subscribers > 0 ? 3 : 0 }} />
      </div>
      <p>{words} <small>as of <Time value={node.reportedAt} withDate={false} /></small></p>
    </div>
  );
}

function Streams({ streams }: { streams: NodeStream[] }) {
  if (streams.length === 0) return <p className="empty">No stream carried.</p>;
  return (
    <div className="table-wrap">
      <table aria-label="Streams carried">
        <thead><tr><th scope="col">Stream</th><th scope="col">As</th><th scope="col">Listeners</th><th scope="col">Since</th></tr></thead>
        <tbody>
          {streams.map((stream) => (
            <tr key={`${stream.scope}/${stream.name}`}>
              <td><code>{stream.scope}/{stream.name}</code>{stream.instance && <small> · instance {stream.instance.start.replace('T', ' ')}</small>}</td>
              <td>{stream.carriedAs}</td>
              <td>{stream.subscribers}</td>
              <td><Time value={stream.startTime} withDate={false} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** What each programme instance was heard by in the last day: its peak (a bar against the highest) and its listener-minutes. */
function Audience() {
  const { data, error } = useLive(loadAudience, AUDIENCE_EVENTS);
  const highest = Math.max(1, ...(data?.audiences ?? []).map((audience) => audience.peakListeners));
  // Made again only by a read: the chart is drawn anew for each new list.
  const instances = useMemo(() => (data?.audiences ?? []).map((audience) => ({
    label: `${data?.titles[audience.event] ?? 'Instance'} ${audience.start.slice(5, 16).replace('T', ' ')}`, ...audience,
  })), [data]);
  return (
    <section aria-labelledby="audience-title">
      <h2 id="audience-title">Audience of the last day</h2>
      <Refusal error={error} />
      {data === undefined ? <Empty>Loading the audience…</Empty> : data.audiences.length === 0 ? <Empty>No one listened in the last day.</Empty> : (
        <>
          <AudienceChart instances={instances} />
          <div className="table-wrap">
            <table className="audience">
              <thead><tr><th scope="col">Instance</th><th scope="col">Peak</th><th scope="col">Listener-minutes</th><th scope="col">Average</th><th scope="col">By region</th></tr></thead>
              <tbody>
                {data.audiences.map((audience) => (
                  <tr key={`${audience.event}/${audience.start}`}>
                    <td>{data.titles[audience.event] ?? audience.event}<br /><small>{audience.start.replace('T', ' ')}</small></td>
                    <td>
                      <span className="bar" aria-hidden="true" style={{ width: `${Math.round((audience.peakListeners / highest) * 100)}%` }} />
                      {audience.peakListeners} at <Time value={audience.peakAt} withDate={false} />
                    </td>
                    <td>{audience.listenerMinutes}</td>
                    <td>{audience.averageListeners.toFixed(1)}</td>
                    <td>{Object.entries(audience.regions).map(([region, minutes]) => `${region} ${minutes}`).join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="hint">Counted per minute from the nodes' reports, as of <Time value={data.readAt} withDate={false} />.</p>
        </>
      )}
    </section>
  );
}
