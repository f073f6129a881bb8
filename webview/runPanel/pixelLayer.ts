// The dense lines' layer: a line with more points than pixel columns is a one-pixel-wide span
// per device column, written straight into the frame's pixels over a copy of the axes layer.
// The browser's 2D canvas strokes such a line as thousands of zigzag segments, each stroked,
// joined and antialiased, which costs a worker several milliseconds per line on every frame;
// here it costs one pass over the line's columns. Sparse lines, markers and the hover
// read-out are drawn with the canvas API on top.

type Canvas = OffscreenCanvas | HTMLCanvasElement;
type Context = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

export interface Rgba {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  /** 0 to 1. */
  readonly a: number;
}

let probe: Context | undefined;
const parsed = new Map<string, Rgba>();

/** Any CSS colour as the canvas resolves it (`#rrggbb` or `rgba(r, g, b, a)`). */
export function parseColour(colour: string): Rgba {
  const known = parsed.get(colour);
  if (known !== undefined) return known;
  probe ??= (typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : document.createElement('canvas')).getContext('2d') as Context;
  probe.fillStyle = '#000000';
  probe.fillStyle = colour;
  const resolved = String(probe.fillStyle);
  let rgba: Rgba = { r: 0, g: 0, b: 0, a: 1 };
  const hex = /^#([0-9a-f]{6})$/i.exec(resolved);
  if (hex?.[1] !== undefined) {
    const n = parseInt(hex[1], 16);
    rgba = { r: n >> 16, g: (n >> 8) & 255, b: n & 255, a: 1 };
  } else {
    const m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$/i.exec(resolved);
    if (m !== null) rgba = { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]), a: m[4] === undefined ? 1 : Number(m[4]) };
  }
  parsed.set(colour, rgba);
  return rgba;
}

/**
 * A transparent frame-sized pixel buffer the dense lines are painted into, then laid over the
 * canvas in one drawImage (through a scratch canvas: putImageData would replace pixels, not
 * blend them).
 */
export class PixelLayer {
  private image: ImageData | undefined;
  private words: Uint32Array | undefined;
  private scratch: Canvas | undefined;
  private width = 0;
  private height = 0;
  /** Device-pixel bounds that spans are clipped to. */
  private clip = { left: 0, top: 0, right: 0, bottom: 0 };
  private used = false;

  /** Starts a frame of the given device size, spans clipped to the given device-pixel box. */
  begin(width: number, height: number, clip: { left: number; top: number; right: number; bottom: number }): void {
    if (this.image === undefined || this.width !== width || this.height !== height) {
      this.width = width;
      this.height = height;
      this.image = new ImageData(Math.max(1, width), Math.max(1, height));
      this.words = new Uint32Array(this.image.data.buffer);
    } else if (this.used) {
      // Spans never leave the clip: only its rows were painted.
      this.words?.fill(0, this.clip.top * width, this.clip.bottom * width);
    }
    this.clip = {
      left: Math.max(0, Math.floor(clip.left)),
      top: Math.max(0, Math.floor(clip.top)),
      right: Math.min(width, Math.ceil(clip.right)),
      bottom: Math.min(height, Math.ceil(clip.bottom)),
    };
    this.used = false;
  }

  /** Paints device column `x` from row `y0` to `y1` (inclusive, either order), blended over. */
  span(x: number, y0: number, y1: number, colour: Rgba): void {
    const image = this.image;
    if (image === undefined || x < this.clip.left || x >= this.clip.right) return;
    let from = Math.floor(Math.min(y0, y1));
    let to = Math.floor(Math.max(y0, y1));
    if (from < this.clip.top) from = this.clip.top;
    if (to >= this.clip.bottom) to = this.clip.bottom - 1;
    if (from > to) return;
    const data = image.data;
    const stride = this.width * 4;
    const a = colour.a;
    let i = from * stride + x * 4;
    if (a >= 1) {
      for (let y = from; y <= to; y++, i += stride) {
        data[i] = colour.r;
        data[i + 1] = colour.g;
        data[i + 2] = colour.b;
        data[i + 3] = 255;
      }
    } else {
      // Source over, on unpremultiplied pixels.
      const keep = 1 - a;
      for (let y = from; y <= to; y++, i += stride) {
        const under = ((data[i + 3] as number) / 255) * keep;
        const out = a + under;
        data[i] = (colour.r * a + (data[i] as number) * under) / out;
        data[i + 1] = (colour.g * a + (data[i + 1] as number) * under) / out;
        data[i + 2] = (colour.b * a + (data[i + 2] as number) * under) / out;
        data[i + 3] = out * 255;
      }
    }
    this.used = true;
  }

  /**
   * Allocates the buffers for a frame of this size and lays one fully transparent frame over
   * `ctx` (no visible change), so the first real frame pays for neither. The pixels are
   * written once here too: the system maps a new buffer's memory at its first write.
   */
  prepare(ctx: Context, width: number, height: number): void {
    this.begin(width, height, { left: 0, top: 0, right: width, bottom: height });
    this.words?.fill(0);
    this.span(0, 0, 0, { r: 0, g: 0, b: 0, a: 0 });
    this.end(ctx);
  }

  /** Lays the painted spans over `ctx` (device pixels, identity transform). */
  end(ctx: Context): void {
    if (this.image === undefined || !this.used) return;
    this.scratch ??= typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : document.createElement('canvas');
    if (this.scratch.width !== this.width || this.scratch.height !== this.height) {
      this.scratch.width = this.width;
      this.scratch.height = this.height;
    }
    // Only the clip's pixels travel: the frame outside it holds nothing.
    const { left, top, right, bottom } = this.clip;
    if (right <= left || bottom <= top) return;
    (this.scratch.getContext('2d') as Context).putImageData(this.image, 0, 0, left, top, right - left, bottom - top);
    ctx.drawImage(this.scratch, left, top, right - left, bottom - top, left, top, right - left, bottom - top);
  }
}
