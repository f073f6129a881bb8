// Draws one sample: the slice's grey levels at their own pixels (scaled up without smoothing,
// so each stored pixel stays a visible square) and the overlays over it. Overlay coordinates
// are pixel centres of the stored slice (x = column, y = row): a pixel's square runs from
// (x, y) to (x + 1, y + 1) on the canvas grid, so a centre is at +0.5 and a box with inclusive
// corners covers its corner pixels whole.

import type { Overlays } from '../../src/shared/preview/overlays';
import type { SampleImage } from '../../src/shared/protocol/samplePreview';

export interface Layers {
  readonly boxes: boolean;
  readonly points: boolean;
  readonly lines: boolean;
}

/** Fixed, saturated colours: they must stand out on any grey level, in any theme. */
export const OVERLAY_COLOURS = { box: '#ffd400', target: '#ff8c00', major: '#00e5ff', minor: '#ff3d9a', line: '#00e5ff', point: '#7cff3a' } as const;

/**
 * A detection target ("x1, y1, x2, y2": lower-left origin, normalised) drawn back onto a
 * width x height image in pixel edges, as the reference's box reads on the displayed image:
 * from (x1 W, (1 - y2) H) to (x2 W, (1 - y1) H). Undefined when the text is not four numbers.
 */
export function targetBox(text: string, width: number, height: number): { x0: number; y0: number; x1: number; y1: number } | undefined {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || !parts.every(Number.isFinite)) return undefined;
  const [x1, y1, x2, y2] = parts as [number, number, number, number];
  return { x0: x1 * width, y0: (1 - y2) * height, x1: x2 * width, y1: (1 - y1) * height };
}

/** A display window over the raw values: what maps to black (center - width/2) and white. */
export interface DisplayWindow {
  readonly center: number;
  readonly width: number;
}

/** Radiology's usual windows (Hounsfield units for CT). */
export const WINDOW_PRESETS: ReadonlyArray<{ readonly id: string; readonly label: string; readonly window?: DisplayWindow }> = [
  { id: 'trained', label: 'As trained (min-max)' },
  { id: 'soft', label: 'CT soft tissue (W 400, L 40)', window: { center: 40, width: 400 } },
  { id: 'bone', label: 'CT bone (W 1800, L 400)', window: { center: 400, width: 1800 } },
  { id: 'lung', label: 'CT lung (W 1500, L -600)', window: { center: -600, width: 1500 } },
  { id: 'brain', label: 'CT brain (W 80, L 40)', window: { center: 40, width: 80 } },
  // MR intensities have no fixed scale: the slice's own 1st to 99th percentile.
  { id: 'mr', label: 'MR (1st-99th percentile)' },
];

/** The window from the `low`-th to the `high`-th percentile of the values (NaN left out). */
export function percentileWindow(values: Float32Array, low = 1, high = 99): DisplayWindow {
  const sorted = values.filter((v) => v === v).sort();
  if (sorted.length === 0) return { center: 0, width: 1 };
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))] as number;
  const lo = at(low);
  const hi = at(high);
  return { center: (lo + hi) / 2, width: Math.max(hi - lo, 1e-6) };
}

/** Grey level of a raw value under a window (linear, clamped). */
export function windowed(value: number, window: DisplayWindow): number {
  const low = window.center - window.width / 2;
  const level = ((value - low) / Math.max(window.width, 1e-9)) * 255;
  return level <= 0 || level !== level ? 0 : level >= 255 ? 255 : Math.round(level);
}

/**
 * The grey slice as an RGBA canvas at its own size: the trainer's grey levels, or the raw
 * values under a display window.
 */
export function sliceCanvas(image: SampleImage, window?: DisplayWindow): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  const data = g.createImageData(image.width, image.height);
  const words = new Uint32Array(data.data.buffer);
  for (let i = 0; i < image.pixels.length; i++) {
    const v = window === undefined ? (image.pixels[i] as number) : windowed(image.values[i] as number, window);
    // RGBA bytes in memory order on a little-endian machine: 0xAABBGGRR.
    words[i] = 0xff000000 | (v << 16) | (v << 8) | v;
  }
  g.putImageData(data, 0, 0);
  return canvas;
}

/**
 * The slice resampled to the model's input size (the processor's resize target), for the
 * model-input view. The size is exact; the resampling is the browser's, close to the
 * processor's own but not bit-identical.
 */
export function resizedCanvas(slice: HTMLCanvasElement, height: number, width: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = 'high';
  g.drawImage(slice, 0, 0, width, height);
  return canvas;
}

/** Canvas pixels per stored pixel that fit `maxWidth` x `maxHeight` CSS px (at least 1/8). */
export function fitScale(image: { width: number; height: number }, maxWidth: number, maxHeight: number): number {
  return Math.max(1 / 8, Math.min(maxWidth / image.width, maxHeight / image.height));
}

/** The longest of 1, 2, 5, 10, 20, 50... mm that fits in a quarter of the image's width. */
export function scaleBarMm(widthPixels: number, mmPerPixel: number): number {
  const budget = (widthPixels * mmPerPixel) / 4;
  let best = 0;
  for (let decade = 0.1; decade <= 1e4; decade *= 10) {
    for (const step of [1, 2, 5]) if (step * decade <= budget) best = step * decade;
  }
  return Number(best.toPrecision(3));
}

/** A millimetre scale bar at the bottom left: the columns' spacing says how long a mm is. */
function drawScaleBar(g: CanvasRenderingContext2D, heightCss: number, scale: number, widthPixels: number, mmPerPixel: number): void {
  const mm = scaleBarMm(widthPixels, mmPerPixel);
  if (!(mm > 0)) return;
  const length = (mm / mmPerPixel) * scale;
  const x = 10;
  const y = heightCss - 12;
  g.fillStyle = 'rgba(0, 0, 0, 0.75)';
  g.fillRect(x - 1, y - 1, length + 2, 5);
  g.fillStyle = '#ffffff';
  g.fillRect(x, y, length, 3);
  g.font = '12px sans-serif';
  g.textBaseline = 'bottom';
  g.lineWidth = 3;
  g.strokeStyle = 'rgba(0, 0, 0, 0.8)';
  const label = `${mm} mm`;
  g.strokeText(label, x, y - 3);
  g.fillText(label, x, y - 3);
}

export function drawSample(
  canvas: HTMLCanvasElement,
  slice: HTMLCanvasElement,
  scale: number,
  overlays: Overlays | undefined,
  layers: Layers,
  /** Millimetres per pixel across (the columns' spacing), for the scale bar. */
  mmPerPixel?: number,
  /** The detection target drawn back (pixel edges): where the text puts the box. */
  target?: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number },
  /**
   * Columns and rows of `slice` per stored pixel, when `slice` is the model's resized input
   * rather than the stored slice: overlays (in stored pixels) are stretched by as much.
   */
  stretch: readonly [number, number] = [1, 1],
): void {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.round(slice.width * scale);
  const height = Math.round(slice.height * scale);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  g.imageSmoothingEnabled = false;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.drawImage(slice, 0, 0, width, height);
  const [kx, ky] = stretch;
  if (mmPerPixel !== undefined && mmPerPixel > 0) drawScaleBar(g, height, scale, slice.width, mmPerPixel / kx);
  if (overlays === undefined) return;
  // Stored pixel edges and centres on the canvas, across (x) and down (y).
  const px = (x: number) => x * kx * scale;
  const py = (y: number) => y * ky * scale;
  const cx = (x: number) => (x + 0.5) * kx * scale;
  const cy = (y: number) => (y + 0.5) * ky * scale;
  g.lineWidth = 2;
  g.font = '12px sans-serif';
  g.textBaseline = 'bottom';
  const label = (text: string, x: number, y: number, colour: string) => {
    if (text === '') return;
    g.lineWidth = 3;
    g.strokeStyle = 'rgba(0, 0, 0, 0.8)';
    g.strokeText(text, x, y);
    g.fillStyle = colour;
    g.fillText(text, x, y);
    g.lineWidth = 2;
  };
  if (layers.boxes) {
    for (const box of overlays.boxes) {
      g.strokeStyle = OVERLAY_COLOURS.box;
      g.strokeRect(px(box.x0), py(box.y0), px(box.x1 + 1) - px(box.x0), py(box.y1 + 1) - py(box.y0));
      label(box.label, px(box.x0), py(box.y0) - 3, OVERLAY_COLOURS.box);
    }
  }
  if (layers.boxes && target !== undefined) {
    g.save();
    g.setLineDash([6, 4]);
    g.strokeStyle = OVERLAY_COLOURS.target;
    g.strokeRect(px(target.x0), py(target.y0), px(target.x1) - px(target.x0), py(target.y1) - py(target.y0));
    g.restore();
    label('target', px(target.x0), py(target.y1) + 14, OVERLAY_COLOURS.target);
  }
  if (layers.lines) {
    for (const line of overlays.lines) {
      const colour = line.label === 'major' ? OVERLAY_COLOURS.major : line.label === 'minor' ? OVERLAY_COLOURS.minor : OVERLAY_COLOURS.line;
      g.strokeStyle = colour;
      g.beginPath();
      g.moveTo(cx(line.x0), cy(line.y0));
      g.lineTo(cx(line.x1), cy(line.y1));
      g.stroke();
      if (line.label === 'major' || line.label === 'minor') label(line.label, cx(line.x1) + 4, cy(line.y1) - 2, colour);
    }
  }
  if (layers.points) {
    for (const point of overlays.points) {
      g.fillStyle = OVERLAY_COLOURS.point;
      g.beginPath();
      g.arc(cx(point.x), cy(point.y), Math.max(3, (scale * Math.min(kx, ky)) / 2), 0, 2 * Math.PI);
      g.fill();
      label(point.label, cx(point.x) + 6, cy(point.y) - 4, OVERLAY_COLOURS.point);
    }
  }
}
