/**
 * One chart of the device page, drawn with uPlot (MIT; a canvas, no inline styles: it sets
 * element.style through the CSSOM, which the CSP allows, and its style sheet is bundled
 * into /assets/style.css). Per series: the last value of each minute as a stepped line
 * with the minute's min–max as a light band; behind them the learned envelope as a shaded
 * band; over them the limits (hard: solid red, soft: dashed amber), each labelled on the
 * canvas, and the commands as dotted vertical lines with the commanded value as a diamond.
 * The words for all of it are in the legend beside the chart (history-format.ts).
 */
import uPlot from 'uplot';
import type { CommandMarkerView, HistorySeriesView } from '../../agent/src/server/dashboard-protocol.ts';
import { setText } from './dom.ts';
import { alignHistory, formatHourMinute, formatNumber, timeTick, valueRange, type ChartGroup } from './history-format.ts';

export interface ChartInput {
  readonly group: ChartGroup;
  readonly markers: readonly CommandMarkerView[];
  /** Time axis, epoch ms: the same for every chart of the page, so they line up. */
  readonly from: number;
  readonly to: number;
  readonly stepMs: number;
}

interface Palette {
  readonly text: string;
  readonly muted: string;
  readonly grid: string;
  readonly hard: string;
  readonly soft: string;
  readonly envelope: string;
  readonly envelopeEdge: string;
  readonly lines: readonly string[];
  readonly bands: readonly string[];
  readonly marker: string;
  readonly background: string;
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value === '' ? fallback : value;
}

/** The sheet's own colours (style.css :root), so canvas and page agree. */
function palette(): Palette {
  return {
    text: cssVar('--text', '#f2f5f8'),
    muted: cssVar('--muted', '#a4afbc'),
    grid: cssVar('--line', '#2f3a47'),
    hard: cssVar('--critical', '#e5484d'),
    soft: cssVar('--warning', '#ffd23f'),
    envelope: 'rgba(63, 185, 80, 0.16)',
    envelopeEdge: 'rgba(63, 185, 80, 0.75)',
    lines: [cssVar('--focus', '#7cc4ff'), '#c4a7ff'],
    bands: ['rgba(124, 196, 255, 0.28)', 'rgba(196, 167, 255, 0.28)'],
    marker: cssVar('--muted', '#a4afbc'),
    background: cssVar('--bg', '#0b0f14'),
  };
}

const FONT = '"DejaVu Sans", system-ui, sans-serif';
const CHART_HEIGHT = 230;
const SMALL_CHART_HEIGHT = 150;

/** Device pixels per CSS pixel: uPlot draws the canvas at this scale. */
function ratio(): number {
  return uPlot.pxRatio;
}

/** Room right of the plot for the limit labels; the same on every chart, so their time axes line up. */
const LABEL_GUTTER = 104;

function horizontal(ctx: CanvasRenderingContext2D, u: uPlot, value: number, color: string, dash: readonly number[], label: string): void {
  const y = Math.round(u.valToPos(value, 'y', true));
  const { left, width, top, height } = u.bbox;
  if (y < top || y > top + height) return;
  const px = ratio();
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2 * px;
  ctx.setLineDash(dash.map((step) => step * px));
  ctx.beginPath();
  ctx.moveTo(left, y);
  ctx.lineTo(left + width, y);
  ctx.stroke();
  ctx.setLineDash([]);
  // Named in the gutter beside the plot, where no marker or line can cover it.
  ctx.font = `${600} ${12 * px}px ${FONT}`;
  ctx.fillStyle = color;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  ctx.fillText(label, left + width + 8 * px, y);
  ctx.restore();
}

export class HistoryChart {
  private readonly plot: uPlot;
  private input: ChartInput;
  private readonly colors = palette();
  private readonly readout: HTMLElement;

  constructor(container: HTMLElement, readout: HTMLElement, input: ChartInput) {
    this.input = input;
    this.readout = readout;
    const colors = this.colors;
    const series = input.group.series;
    const height = input.group.family === 'battery' || input.group.family === 'volume' ? SMALL_CHART_HEIGHT : CHART_HEIGHT;
    const stepped = uPlot.paths.stepped?.({ align: 1 });
    const seriesOptions: uPlot.Series[] = [{}];
    const bands: uPlot.Band[] = [];
    series.forEach((item, index) => {
      const line = colors.lines[index % colors.lines.length] ?? colors.text;
      const band = colors.bands[index % colors.bands.length] ?? colors.grid;
      // A programmed value holds until the next command: join across the minutes between commands.
      const spanGaps = item.source === 'command';
      const base = 1 + index * 3;
      seriesOptions.push(
        { label: item.label, stroke: line, width: 2, spanGaps, ...(stepped === undefined ? {} : { paths: stepped }), points: { show: item.source === 'command', size: 7, fill: line } },
        { label: `${item.label} minimum`, stroke: 'transparent', width: 0, spanGaps, ...(stepped === undefined ? {} : { paths: stepped }), points: { show: false } },
        { label: `${item.label} maximum`, stroke: 'transparent', width: 0, spanGaps, ...(stepped === undefined ? {} : { paths: stepped }), points: { show: false } },
      );
      bands.push({ series: [base + 2, base + 1], fill: band });
    });
    const axisFont = `${13}px ${FONT}`;
    this.plot = new uPlot({
      width: Math.max(320, container.clientWidth),
      height,
      ms: 1,
      class: 'history-uplot',
      padding: [12, LABEL_GUTTER, 0, 0],
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      scales: {
        x: { time: true, range: () => [this.input.from, this.input.to] },
        y: { range: () => valueRange(this.input.group, this.input.markers) },
      },
      axes: [
        {
          stroke: colors.muted,
          font: axisFont,
          grid: { stroke: colors.grid, width: 1 },
          ticks: { stroke: colors.grid, width: 1 },
          space: 90,
          values: (_u, splits) => splits.map((ms, index) => timeTick(ms, index === 0 ? null : splits[index - 1] ?? null)),
        },
        {
          stroke: colors.muted,
          font: axisFont,
          grid: { stroke: colors.grid, width: 1 },
          ticks: { stroke: colors.grid, width: 1 },
          size: 64,
          label: input.group.unit,
          labelFont: `600 ${13}px ${FONT}`,
          labelSize: 20,
          values: (_u, splits) => splits.map((value) => formatNumber(value)),
        },
      ],
      series: seriesOptions,
      bands,
      hooks: {
        drawAxes: [(u) => this.drawEnvelopes(u)],
        draw: [(u) => this.drawLimits(u), (u) => this.drawMarkers(u), (u) => this.drawSeriesLabels(u)],
        setCursor: [(u) => this.showReadout(u)],
      },
    }, this.data(), container);
    this.showReadout(this.plot);
  }

  /** New data (a refresh): same chart, redrawn. */
  update(input: ChartInput): void {
    this.input = input;
    this.plot.setData(this.data());
  }

  resize(width: number): void {
    this.plot.setSize({ width: Math.max(320, width), height: this.plot.height });
  }

  destroy(): void {
    this.plot.destroy();
  }

  private data(): uPlot.AlignedData {
    const aligned = alignHistory(this.input.group.series, this.input.stepMs);
    return [aligned.x, ...aligned.columns] as uPlot.AlignedData;
  }

  private get series(): readonly HistorySeriesView[] {
    return this.input.group.series;
  }

  private drawEnvelopes(u: uPlot): void {
    const ctx = u.ctx;
    const { left, width, top, height } = u.bbox;
    const px = ratio();
    for (const item of this.series) {
      const envelope = item.envelope;
      if (envelope === null) continue;
      const yHigh = Math.max(top, u.valToPos(envelope.high, 'y', true));
      const yLow = Math.min(top + height, u.valToPos(envelope.low, 'y', true));
      if (yLow <= top || yHigh >= top + height) continue;
      ctx.save();
      ctx.fillStyle = this.colors.envelope;
      // At least two pixels: an envelope of a single value is still visible.
      ctx.fillRect(left, yHigh, width, Math.max(2 * px, yLow - yHigh));
      ctx.strokeStyle = this.colors.envelopeEdge;
      ctx.lineWidth = px;
      ctx.setLineDash([2 * px, 3 * px]);
      ctx.beginPath();
      ctx.moveTo(left, yHigh);
      ctx.lineTo(left + width, yHigh);
      ctx.moveTo(left, yLow);
      ctx.lineTo(left + width, yLow);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = `${600} ${12 * px}px ${FONT}`;
      ctx.fillStyle = this.colors.envelopeEdge;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      ctx.fillText(`learned ${formatNumber(envelope.low)}–${formatNumber(envelope.high)}`, left + 6 * px, yHigh + 3 * px);
      ctx.restore();
    }
  }

  private drawLimits(u: uPlot): void {
    const drawn = new Set<string>();
    const once = (key: string): boolean => {
      if (drawn.has(key)) return false;
      drawn.add(key);
      return true;
    };
    for (const item of this.series) {
      const limits = item.limits;
      if (limits === null) continue;
      // The legend says "programmable range" or "hard limit" in full; the gutter has room for a word and the number.
      const hardWord = limits.kind === 'device' ? '' : 'hard ';
      if (limits.softMax !== null && once(`s${limits.softMax}`)) horizontal(u.ctx, u, limits.softMax, this.colors.soft, [8, 6], `soft max ${formatNumber(limits.softMax)}`);
      if (limits.softMin !== null && once(`s${limits.softMin}`)) horizontal(u.ctx, u, limits.softMin, this.colors.soft, [8, 6], `soft min ${formatNumber(limits.softMin)}`);
      if (limits.hardMax !== null && once(`h${limits.hardMax}`)) horizontal(u.ctx, u, limits.hardMax, this.colors.hard, [], `${hardWord}max ${formatNumber(limits.hardMax)}`);
      if (limits.hardMin !== null && once(`h${limits.hardMin}`)) horizontal(u.ctx, u, limits.hardMin, this.colors.hard, [], `${hardWord}min ${formatNumber(limits.hardMin)}`);
    }
  }

  private drawMarkers(u: uPlot): void {
    const ctx = u.ctx;
    const { left, width, top, height } = u.bbox;
    const px = ratio();
    ctx.save();
    for (const marker of this.input.markers) {
      const x = Math.round(u.valToPos(marker.ts, 'x', true));
      if (x < left || x > left + width) continue;
      ctx.strokeStyle = this.colors.marker;
      ctx.lineWidth = px;
      ctx.setLineDash([1 * px, 3 * px]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.setLineDash([]);
      // A small downward triangle at the top: a command happened here.
      ctx.fillStyle = this.colors.marker;
      ctx.beginPath();
      ctx.moveTo(x - 5 * px, top);
      ctx.lineTo(x + 5 * px, top);
      ctx.lineTo(x, top + 7 * px);
      ctx.closePath();
      ctx.fill();
      for (const item of this.series) {
        const value = marker.values[item.key];
        if (value === undefined) continue;
        const y = u.valToPos(value, 'y', true);
        if (y < top || y > top + height) continue;
        // The commanded value: a diamond, outlined so it reads on the line and on the band.
        const size = 6 * px;
        ctx.beginPath();
        ctx.moveTo(x, y - size);
        ctx.lineTo(x + size, y);
        ctx.lineTo(x, y + size);
        ctx.lineTo(x - size, y);
        ctx.closePath();
        ctx.fillStyle = this.colors.text;
        ctx.fill();
        ctx.lineWidth = 2 * px;
        ctx.strokeStyle = this.colors.background;
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  /** With two lines on one chart, each is named at its last point, so the legend's words are also on the canvas. */
  private drawSeriesLabels(u: uPlot): void {
    if (this.series.length < 2) return;
    const ctx = u.ctx;
    const px = ratio();
    ctx.save();
    ctx.font = `${700} ${12 * px}px ${FONT}`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    this.series.forEach((item, index) => {
      const last = item.last.at(-1);
      const at = item.t.at(-1);
      if (last === undefined || at === undefined) return;
      const x = u.valToPos(at, 'x', true);
      const y = u.valToPos(last, 'y', true);
      ctx.fillStyle = this.colors.lines[index % this.colors.lines.length] ?? this.colors.text;
      ctx.fillText(item.label, Math.min(x + 6 * px, u.bbox.left + u.bbox.width - 120 * px), y - 4 * px);
    });
    ctx.restore();
  }

  /** The values under the cursor in words, or the newest when the cursor is away. */
  private showReadout(u: uPlot): void {
    const xs = u.data[0];
    if (xs === undefined || xs.length === 0) {
      setText(this.readout, 'No values in the window.');
      return;
    }
    const index = u.cursor.idx ?? null;
    const parts: string[] = [];
    const series = this.series;
    if (index === null) {
      for (const item of series) {
        const last = item.last.at(-1);
        const at = item.t.at(-1);
        if (last !== undefined && at !== undefined) parts.push(`${item.label} ${formatNumber(last)} ${item.unit} at ${formatHourMinute(at)}`);
      }
      setText(this.readout, `Latest: ${parts.join(' · ')}`);
      return;
    }
    const at = xs[index];
    series.forEach((item, position) => {
      const base = 1 + position * 3;
      const last = u.data[base]?.[index];
      const min = u.data[base + 1]?.[index];
      const max = u.data[base + 2]?.[index];
      if (typeof last !== 'number') return;
      const spread = typeof min === 'number' && typeof max === 'number' && min !== max ? ` (minute's range ${formatNumber(min)}–${formatNumber(max)})` : '';
      parts.push(`${item.label} ${formatNumber(last)} ${item.unit}${spread}`);
    });
    setText(this.readout, at === undefined ? '' : `${formatHourMinute(at)}: ${parts.length === 0 ? 'no value in this minute' : parts.join(' · ')}`);
  }
}
