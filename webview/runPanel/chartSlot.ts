// One chart of the run panel, drawn in two layers. Chart.js draws the axes, grid and ticks
// into a canvas of its own, and only when they change: a new size, theme or option, another
// x range, or lines that leave the y axis (or shrink inside it). Every other frame copies
// that layer onto the visible canvas and draws the lines on top from the decimators' typed
// arrays, and the hover read-out over them. A run appending a point ten times a second then
// costs a copy and one path per line, not a Chart.js update.

import { Chart } from 'chart.js';
import type { RangeChart } from './chartConfig';
import { chartConfiguration, chartOptions } from './chartConfig';
import type { Line } from './chartLines';
import { updateLine } from './chartLines';
import { yRange } from './lineMath';
import type { ChartArea, ChartDefinition, ChartOptions, ChartTheme, HoverReport } from './chartProtocol';
import type { Extent } from './axisExtent';
import type { ColumnIndexCache, ColumnLayout } from './decimate';
import { formatClock, formatNumber } from './format';
import type { HoverItem, PixelScale } from './lineDrawing';
import { drawHover, drawLines, hoverItems } from './lineDrawing';
import { PixelLayer } from './pixelLayer';
import type { SeriesStore } from './series';

type Canvas = OffscreenCanvas | HTMLCanvasElement;
type Context = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

/** The options of a scale that a fit sets. */
interface ScaleFit {
  min?: unknown;
  max?: unknown;
  suggestedMin?: unknown;
  suggestedMax?: unknown;
}

/** What the axes layer was last fitted to. */
interface Fit {
  readonly xMin: number | undefined;
  readonly xMax: number | undefined;
  readonly range: { readonly min: number; readonly max: number } | undefined;
}

export interface DrawContext {
  readonly theme: ChartTheme;
  readonly options: ChartOptions;
  readonly dpr: number;
  readonly store: (line: Line) => SeriesStore | undefined;
  /** The column edges of this drawing pass, shared by the lines over the same x. */
  readonly indexes?: ColumnIndexCache;
}

/** The x range, and the y range the axis is fitted to (see RangeChart). */
function setFit(scales: { x?: ScaleFit; y?: ScaleFit } | undefined, extent: Extent | undefined, range: Fit['range']): void {
  const { x, y } = scales ?? {};
  if (x !== undefined && extent !== undefined) {
    x.min = extent.xMin;
    x.max = extent.xMax;
  }
  if (y !== undefined) {
    y.suggestedMin = range?.min;
    y.suggestedMax = range?.max;
  }
}

export class ChartSlot {
  lines: Line[] = [];
  /** Data or layout changed since the last draw. */
  dirty = true;
  area: ChartArea | undefined;
  /** The read-out under the pointer, as last drawn. */
  hover: HoverReport | undefined;
  private chart: RangeChart | undefined;
  private axes: Canvas | undefined;
  private context: Context | undefined;
  private fit: Fit | undefined;
  private pointer: { readonly x: number; readonly y: number } | undefined;
  private pointerMoved = false;
  private readonly layer = new PixelLayer();

  constructor(
    readonly definition: ChartDefinition,
    private readonly canvas: Canvas,
    public width: number,
    public height: number,
    public visible: boolean,
  ) {}

  get hasChart(): boolean {
    return this.chart !== undefined;
  }

  /**
   * Shows the empty axes before any data comes (on screen, or hidden at the size the chart
   * will be shown at), and makes the frame's buffers, so the first data costs neither.
   */
  showEmpty(theme: ChartTheme, options: ChartOptions, dpr: number): void {
    if (this.chart !== undefined) return;
    const chart = this.createChart(theme, options, dpr, undefined, undefined);
    const context = { theme, options, dpr, store: () => undefined };
    this.compose(chart, context);
    const g = this.context;
    if (g === undefined) return;
    g.save();
    g.setTransform(1, 0, 0, 1, 0, 0);
    this.layer.prepare(g, this.canvas.width, this.canvas.height);
    g.restore();
  }

  /**
   * The Chart.js axes layer, created already sized and fitted: its constructor's own update
   * is then the only one (a resize or a fit after it would each be another full update).
   */
  private createChart(theme: ChartTheme, options: ChartOptions, dpr: number, extent: Extent | undefined, range: Fit['range']): RangeChart {
    // Chart.js reads the CSS size off the canvas, then scales it by the pixel ratio.
    const axes = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(this.width, this.height) : document.createElement('canvas');
    axes.width = this.width;
    axes.height = this.height;
    const config = chartConfiguration(theme, options, dpr);
    setFit(config.options?.scales, extent, range);
    this.axes = axes;
    // Chart.js draws into an OffscreenCanvas as well; its types only name HTMLCanvasElement.
    this.chart = new Chart(axes as HTMLCanvasElement, config);
    this.fit = { xMin: extent?.xMin, xMax: extent?.xMax, range };
    return this.chart;
  }

  /** New Chart.js options (theme, axis, scale, pixel ratio): the axes are fitted again. */
  restyle(theme: ChartTheme, options: ChartOptions, dpr: number): void {
    if (this.chart !== undefined) this.chart.options = chartOptions(theme, options, dpr);
    this.fit = undefined;
    this.dirty = true;
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    // Chart.js's resize is a full update with the fitted ranges it holds: no refit after it.
    if (this.chart !== undefined && width > 0 && height > 0) this.chart.resize(width, height);
    this.dirty = true;
  }

  /** Lets Chart.js forget the chart (it keeps every chart in a registry). */
  dispose(): void {
    this.chart?.destroy();
    this.chart = undefined;
  }

  /** The pointer moved over the chart (canvas CSS pixels) or left it (undefined). */
  setPointer(pointer: { x: number; y: number } | undefined): void {
    if (pointer === undefined && this.pointer === undefined) return;
    this.pointer = pointer;
    this.pointerMoved = true;
  }

  /** Whether only the read-out needs drawing again. */
  get pointerOnly(): boolean {
    return this.pointerMoved && !this.dirty && this.chart !== undefined && this.area !== undefined;
  }

  /** Brings the lines up to date, fits the axes if they no longer fit, and draws the frame. */
  draw(extent: Extent | undefined, ctx: DrawContext): void {
    const layout: ColumnLayout | undefined =
      extent === undefined ? undefined : { xMin: extent.xMin, xMax: extent.xMax, columns: Math.max(1, Math.round(this.width * ctx.dpr)) };
    for (const line of this.lines) updateLine(line, ctx.store(line), layout, ctx.options, ctx.indexes);
    const range = yRange(
      this.lines.map((line) => line.decimator.out),
      ctx.options.logScale,
    );
    let chart = this.chart;
    if (chart === undefined) chart = this.createChart(ctx.theme, ctx.options, ctx.dpr, extent, range);
    else if (this.needsFit(chart, extent, range)) this.fitAxes(chart, extent, range);
    this.compose(chart, ctx);
    const area = chart.chartArea;
    const y = chart.scales.y;
    this.area = {
      left: area.left,
      top: area.top,
      right: area.right,
      bottom: area.bottom,
      xMin: extent?.xMin ?? 0,
      xMax: extent?.xMax ?? 0,
      yMin: y?.min ?? 0,
      yMax: y?.max ?? 0,
      logScale: y?.type === 'logarithmic',
    };
    this.dirty = false;
  }

  /** Draws the frame again from the axes layer as it is: the pointer moved, nothing else. */
  redraw(ctx: DrawContext): void {
    if (this.chart !== undefined) this.compose(this.chart, ctx);
  }

  private needsFit(chart: RangeChart, extent: Extent | undefined, range: Fit['range']): boolean {
    const fit = this.fit;
    if (fit === undefined || fit.xMin !== extent?.xMin || fit.xMax !== extent?.xMax) return true;
    if (range === undefined || fit.range === undefined) return range !== fit.range;
    if (range.min === fit.range.min && range.max === fit.range.max) return false;
    // Lines that grew but still lie inside the axis keep it: a live chart does not jump at
    // every new low. Lines that shrank (points dropped) are fitted again.
    const y = chart.scales.y;
    const inside = y !== undefined && range.min >= y.min && range.max <= y.max;
    const shrank = range.min > fit.range.min || range.max < fit.range.max;
    return !inside || shrank;
  }

  private fitAxes(chart: RangeChart, extent: Extent | undefined, range: Fit['range']): void {
    // The configured options, not `chart.options`: that is Chart.js's resolved view, which
    // after an options change stays stale until the next update and would swallow the range.
    setFit(chart.config.options?.scales, extent, range);
    chart.update();
    this.fit = { xMin: extent?.xMin, xMax: extent?.xMax, range };
  }

  /** The axes layer, the lines over it, then the read-out. */
  private compose(chart: RangeChart, ctx: DrawContext): void {
    const axes = this.axes as Canvas;
    if (this.canvas.width !== axes.width || this.canvas.height !== axes.height) {
      this.canvas.width = axes.width;
      this.canvas.height = axes.height;
    }
    this.context ??= this.canvas.getContext('2d') as Context;
    const g = this.context;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, this.canvas.width, this.canvas.height);
    g.drawImage(axes, 0, 0);
    const scale = axes.width / Math.max(1, chart.width);
    g.setTransform(scale, 0, 0, scale, 0, 0);
    const { x, y } = chart.scales;
    this.hover = undefined;
    this.pointerMoved = false;
    if (x === undefined || y === undefined) return;
    drawLines(g, chart.chartArea, x, y as PixelScale, this.lines, ctx.options.logScale, scale, this.layer);
    if (this.pointer === undefined) return;
    const items = hoverItems(this.pointer.x, this.pointer.y, chart.chartArea, x, y as PixelScale, this.lines, ctx.options.logScale);
    if (items.length === 0) return;
    this.hover = this.hoverReport(items, ctx.options);
    const bounds = { left: 0, top: 0, right: chart.width, bottom: chart.height };
    drawHover(g, bounds, this.pointer.x, this.pointer.y, items, this.hover.title, this.hover.items.map((i) => i.text), { fontFamily: ctx.theme.fontFamily });
  }

  private hoverReport(items: readonly HoverItem[], options: ChartOptions): HoverReport {
    const mode = options.xAxis;
    const x = items[0]?.x ?? 0;
    const title = mode === 'wall' ? formatClock(x, 0) : `${mode} ${formatNumber(x)}`;
    return {
      chart: this.definition.id,
      title,
      items: items.map((item) => ({
        run: item.line.runId,
        series: item.line.key.series,
        x: item.x,
        y: item.y,
        text: `${item.line.style.label}: ${formatNumber(item.y)}`,
      })),
    };
  }
}
