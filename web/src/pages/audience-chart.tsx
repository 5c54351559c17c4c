import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface HeardInstance {
  label: string;
  peakListeners: number;
  listenerMinutes: number;
}

const HEIGHT = 220;
// Listeners come whole: no tick at 0.5 of one.
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000];

/** A colour of the page's theme (a CSS custom property), for the canvas, which cannot read them. */
const themed = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function options(instances: HeardInstance[], width: number): uPlot.Options {
  const bars = (align: -1 | 1) => uPlot.paths.bars!({ size: [0.35, 48], align });
  const ticks = () => instances.map((_, index) => index);
  const axis = { stroke: themed('--muted'), grid: { stroke: themed('--line'), width: 1 }, ticks: { stroke: themed('--line'), width: 1 } };
  return {
    width, height: HEIGHT,
    scales: { x: { time: false, range: [-0.5, instances.length - 0.5] }, listeners: { range: (_, __, max) => [0, Math.max(1, max)] }, minutes: { range: (_, __, max) => [0, Math.max(1, max)] } },
    axes: [
      { ...axis, splits: ticks, values: (_, splits) => splits.map((index) => instances[index]?.label ?? '') },
      { ...axis, scale: 'listeners', label: 'Peak listeners', incrs: WHOLE },
      { ...axis, scale: 'minutes', side: 1, label: 'Listener-minutes', grid: { show: false } },
    ],
    series: [
      {},
      { label: 'Peak listeners', scale: 'listeners', fill: themed('--accent'), stroke: themed('--accent'), paths: bars(-1), points: { show: false } },
      { label: 'Listener-minutes', scale: 'minutes', fill: themed('--ok'), stroke: themed('--ok'), paths: bars(1), points: { show: false } },
    ],
    legend: { live: false },
    cursor: { show: false },
  };
}

/**
 * Each instance's peak and listener-minutes side by side (uPlot, on a canvas). The table beside it has the same
 * figures for a screen reader: the chart is an image of them.
 */
export function AudienceChart({ instances }: { instances: HeardInstance[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    const data: uPlot.AlignedData = [instances.map((_, index) => index), instances.map((i) => i.peakListeners), instances.map((i) => i.listenerMinutes)];
    const chart = new uPlot(options(instances, element.clientWidth), data, element);
    const resized = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: HEIGHT }));
    resized.observe(element);
    return () => {
      resized.disconnect();
      chart.destroy();
    };
  }, [instances]);
  return <div ref={box} className="audience-chart" role="img" aria-label="Peak listeners and listener-minutes of each instance, as in the table below" />;
}
