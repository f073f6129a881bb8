// Draws a chart's lines straight from their decimators' typed arrays, and its hover read-out.
// Chart.js keeps the axes, grid and ticks; a line holding thousands of points per chart is
// drawn here in one path, without Chart.js's per-point element objects, which cost more than
// the drawing itself (see `npm run bench:chart`).

import type { Line } from './chartLines';
import type { Points } from './lineMath';
import { nearestIndex, shown } from './lineMath';
import type { PixelLayer, Rgba } from './pixelLayer';
import { parseColour } from './pixelLayer';

/** A scale as Chart.js exposes it: value to pixel and back (canvas CSS pixels). */
export interface PixelScale {
  getPixelForValue(value: number): number;
  getValueForPixel(pixel: number): number | undefined;
}

export interface Box {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

type Context = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

/** Points at the plot's edge draw whole instead of cut in half. */
const CLIP_MARGIN = 6;
const HOVER_MARKER_RADIUS = 4;

function clipTo(ctx: Context, area: Box, margin: number): void {
  ctx.beginPath();
  ctx.rect(area.left - margin, area.top - margin, area.right - area.left + 2 * margin, area.bottom - area.top + 2 * margin);
  ctx.clip();
}

/** Whether a line is drawn as per-column spans: more points than columns, thin and solid. */
function isDense(line: Line, columns: number): boolean {
  return line.decimator.out.length > columns && line.style.lineWidth <= 1 && line.style.dash.length === 0;
}

/**
 * Draws every line, gaps left open, then the markers. `scale` is device pixels per CSS pixel.
 * A line with more points than pixel columns (the decimator's first/low/high/last of each) is
 * painted into `layer` column by column: one device pixel wide, from the lowest to the highest
 * point in the column, joined to the previous column's last point, which is what a one-pixel
 * stroke of it covers. Dense lines go under the others (raw lines are under main ones in
 * `lines` order already).
 */
export function drawLines(ctx: Context, area: Box, x: PixelScale, y: PixelScale, lines: readonly Line[], logScale: boolean, scale: number, layer: PixelLayer): void {
  const columns = Math.max(1, (area.right - area.left) * scale);
  if (lines.some((line) => isDense(line, columns))) {
    const canvas = ctx.canvas;
    const m = CLIP_MARGIN;
    layer.begin(canvas.width, canvas.height, {
      left: (area.left - m) * scale,
      top: (area.top - m) * scale,
      right: (area.right + m) * scale,
      bottom: (area.bottom + m) * scale,
    });
    const xMap = axisMap(x, area.left, area.right, false);
    const yMap = axisMap(y, area.bottom, area.top, logScale);
    for (const line of lines) {
      if (isDense(line, columns) && xMap !== undefined && yMap !== undefined) {
        paintColumns(layer, line.decimator.out, parseColour(line.style.colour), xMap, yMap, scale);
      }
    }
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    layer.end(ctx);
    ctx.restore();
  }
  ctx.save();
  clipTo(ctx, area, CLIP_MARGIN);
  ctx.lineCap = 'butt';
  ctx.lineJoin = 'miter';
  for (const line of lines) {
    if (line.decimator.out.length === 0) continue;
    if (!isDense(line, columns)) strokeLine(ctx, x, y, line, logScale);
    drawMarkers(ctx, x, y, line, logScale);
  }
  ctx.restore();
}

function strokeLine(ctx: Context, x: PixelScale, y: PixelScale, line: Line, logScale: boolean): void {
  const { xs, ys, length } = line.decimator.out;
  const style = line.style;
  ctx.strokeStyle = style.colour;
  ctx.lineWidth = style.lineWidth;
  ctx.setLineDash(style.dash as number[]);
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < length; i++) {
    const value = ys[i] as number;
    if (!shown(value, logScale)) {
      pen = false;
      continue;
    }
    const px = x.getPixelForValue(xs[i] as number);
    const py = y.getPixelForValue(value);
    if (pen) {
      ctx.lineTo(px, py);
    } else {
      ctx.moveTo(px, py);
      pen = true;
    }
  }
  ctx.stroke();
}

/**
 * A scale's value-to-pixel map, a + b·v (a + b·log10 v on a log axis). Chart.js's linear and
 * log scales map exactly so; read off at the plot's edges, it spares the per-point loop a
 * call into Chart.js for every point.
 */
interface AxisMap {
  readonly a: number;
  readonly b: number;
  readonly log: boolean;
}

function axisMap(scale: PixelScale, from: number, to: number, log: boolean): AxisMap | undefined {
  const v0 = scale.getValueForPixel(from);
  const v1 = scale.getValueForPixel(to);
  if (v0 === undefined || v1 === undefined) return undefined;
  const u0 = log ? Math.log10(v0) : v0;
  const u1 = log ? Math.log10(v1) : v1;
  // A plot with no length shows nothing.
  if (!Number.isFinite(u0) || !Number.isFinite(u1) || u0 === u1) return undefined;
  const p0 = scale.getPixelForValue(v0);
  const p1 = scale.getPixelForValue(v1);
  const b = (p1 - p0) / (u1 - u0);
  return { a: p0 - b * u0, b, log };
}

function paintColumns(layer: PixelLayer, points: Points, colour: Rgba, x: AxisMap, y: AxisMap, scale: number): void {
  const { xs, ys, length } = points;
  const log = y.log;
  let column = Number.NaN;
  let top = 0;
  let bottom = 0;
  // The previous shown point's device y, NaN after a gap (a gap is never bridged).
  let previous = Number.NaN;
  for (let i = 0; i < length; i++) {
    const value = ys[i] as number;
    if (!shown(value, log)) {
      previous = Number.NaN;
      continue;
    }
    const cx = Math.floor((x.a + x.b * (xs[i] as number)) * scale);
    const cy = (y.a + y.b * (log ? Math.log10(value) : value)) * scale;
    if (cx !== column) {
      if (column === column) layer.span(column, top, bottom, colour);
      column = cx;
      top = cy;
      bottom = cy;
      if (previous === previous) {
        // The join from the previous column's last point.
        if (previous < top) top = previous;
        if (previous > bottom) bottom = previous;
      }
    } else {
      if (cy < top) top = cy;
      if (cy > bottom) bottom = cy;
    }
    previous = cy;
  }
  if (column === column) layer.span(column, top, bottom, colour);
}

function drawMarkers(ctx: Context, x: PixelScale, y: PixelScale, line: Line, logScale: boolean): void {
  const r = line.style.pointRadius;
  if (r <= 0) return;
  const { xs, ys, length } = line.decimator.out;
  ctx.setLineDash([]);
  ctx.fillStyle = line.style.colour;
  ctx.beginPath();
  for (let i = 0; i < length; i++) {
    const value = ys[i] as number;
    if (!shown(value, logScale)) continue;
    const px = x.getPixelForValue(xs[i] as number);
    const py = y.getPixelForValue(value);
    ctx.moveTo(px + r, py);
    ctx.arc(px, py, r, 0, 2 * Math.PI);
  }
  ctx.fill();
}

export interface HoverItem {
  readonly line: Line;
  readonly x: number;
  readonly y: number;
  readonly px: number;
  readonly py: number;
}

/**
 * What the pointer at (px, py) reads out: for each main line, its shown point nearest in x to
 * the pointer (as TensorBoard does, so runs of different lengths all read out), nearest
 * first. Nothing outside the plot area.
 */
export function hoverItems(px: number, py: number, area: Box, x: PixelScale, y: PixelScale, lines: readonly Line[], logScale: boolean): HoverItem[] {
  if (px < area.left || px > area.right || py < area.top || py > area.bottom) return [];
  const value = x.getValueForPixel(px);
  if (value === undefined || !Number.isFinite(value)) return [];
  const items: HoverItem[] = [];
  for (const line of lines) {
    if (line.key.kind !== 'main') continue;
    const { xs, ys } = line.decimator.out;
    const i = nearestIndex(line.decimator.out, value, logScale);
    if (i < 0) continue;
    const ix = xs[i] as number;
    const iy = ys[i] as number;
    const ipx = x.getPixelForValue(ix);
    items.push({ line, x: ix, y: iy, px: ipx, py: y.getPixelForValue(iy) });
  }
  return items.sort((a, b) => Math.abs(a.px - px) - Math.abs(b.px - px));
}

export interface TooltipStyle {
  readonly fontFamily: string;
}

/** Markers on the read-out points and a box beside the pointer: title, then one row per line. */
export function drawHover(ctx: Context, canvas: Box, px: number, py: number, items: readonly HoverItem[], title: string, rows: readonly string[], style: TooltipStyle): void {
  if (items.length === 0) return;
  ctx.save();
  for (const item of items) {
    ctx.beginPath();
    ctx.arc(item.px, item.py, HOVER_MARKER_RADIUS, 0, 2 * Math.PI);
    ctx.fillStyle = item.line.style.colour;
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
    ctx.stroke();
  }
  const font = `11px ${style.fontFamily}`;
  const bold = `bold 11px ${style.fontFamily}`;
  const lineHeight = 15;
  const pad = 6;
  const swatch = 9;
  ctx.font = bold;
  let width = ctx.measureText(title).width;
  ctx.font = font;
  for (const row of rows) width = Math.max(width, swatch + 5 + ctx.measureText(row).width);
  const boxWidth = Math.ceil(width) + 2 * pad;
  const boxHeight = (rows.length + 1) * lineHeight + 2 * pad - 3;
  // Right of the pointer, or left of it where the box would leave the canvas; kept inside.
  let left = px + 12;
  if (left + boxWidth > canvas.right) left = px - 12 - boxWidth;
  left = Math.max(canvas.left, left);
  const top = Math.min(Math.max(canvas.top, py - boxHeight / 2), Math.max(canvas.top, canvas.bottom - boxHeight));
  ctx.fillStyle = 'rgba(0, 0, 0, 0.82)';
  ctx.beginPath();
  ctx.roundRect(left, top, boxWidth, boxHeight, 4);
  ctx.fill();
  ctx.textBaseline = 'top';
  ctx.fillStyle = '#ffffff';
  ctx.font = bold;
  ctx.fillText(title, left + pad, top + pad);
  ctx.font = font;
  rows.forEach((row, i) => {
    const rowTop = top + pad + (i + 1) * lineHeight;
    ctx.fillStyle = items[i]?.line.style.colour ?? '#ffffff';
    ctx.fillRect(left + pad, rowTop + 1, swatch, swatch);
    ctx.fillStyle = '#ffffff';
    ctx.fillText(row, left + pad + swatch + 5, rowTop);
  });
  ctx.restore();
}
