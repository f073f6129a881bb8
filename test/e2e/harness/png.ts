// A small PNG decoder (8-bit greyscale/RGB/RGBA, not interlaced: what Chromium's screenshots
// are), so pixel checks run in Node on exactly the bytes the screenshot wrote.

import { inflateSync } from 'node:zlib';

export interface Image {
  readonly width: number;
  readonly height: number;
  /** RGBA, 4 bytes per pixel, row after row. */
  readonly rgba: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function decodePng(png: Buffer): Image {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let colourType = -1;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const bitDepth = data[8];
      colourType = data[9] ?? -1;
      if (bitDepth !== 8 || data[12] !== 0 || CHANNELS[colourType] === undefined) {
        throw new Error(`unsupported PNG: bit depth ${bitDepth}, colour type ${colourType}, interlace ${data[12]}`);
      }
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  const channels = CHANNELS[colourType] ?? 4;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y += 1) {
    unfilterRow(raw, y * (stride + 1), pixels, y * stride, stride, channels);
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i += 1) {
    const p = i * channels;
    const grey = channels <= 2;
    rgba[i * 4] = pixels[p] ?? 0;
    rgba[i * 4 + 1] = pixels[grey ? p : p + 1] ?? 0;
    rgba[i * 4 + 2] = pixels[grey ? p : p + 2] ?? 0;
    rgba[i * 4 + 3] = channels === 4 ? (pixels[p + 3] ?? 255) : channels === 2 ? (pixels[p + 1] ?? 255) : 255;
  }
  return { width, height, rgba };
}

/** Reverses the per-row filter (PNG spec section 9) in place into `out`. */
function unfilterRow(raw: Buffer, at: number, out: Uint8Array, row: number, stride: number, bpp: number): void {
  const filter = raw[at];
  for (let x = 0; x < stride; x += 1) {
    const value = raw[at + 1 + x] ?? 0;
    const left = x >= bpp ? (out[row + x - bpp] ?? 0) : 0;
    const up = row > 0 ? (out[row - stride + x] ?? 0) : 0;
    const upLeft = row > 0 && x >= bpp ? (out[row - stride + x - bpp] ?? 0) : 0;
    let predicted = 0;
    if (filter === 1) predicted = left;
    else if (filter === 2) predicted = up;
    else if (filter === 3) predicted = (left + up) >> 1;
    else if (filter === 4) predicted = paeth(left, up, upLeft);
    else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
    out[row + x] = (value + predicted) & 0xff;
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** `#rgb`, `#rrggbb`, `#rrggbbaa` or `rgb(a)(r, g, b, ...)` as [r, g, b]. */
export function parseCssColour(css: string): [number, number, number] {
  const text = css.trim();
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(text)?.[1];
  if (hex !== undefined) {
    const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
    return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /^rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)/i.exec(text);
  if (rgb) {
    return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  }
  throw new Error(`cannot parse colour ${JSON.stringify(css)}`);
}

/** Pixels within `tolerance` per channel of `colour`. */
export function countColour(image: Image, colour: readonly [number, number, number], tolerance = 24): number {
  let count = 0;
  for (let i = 0; i < image.rgba.length; i += 4) {
    if (colour.every((c, k) => Math.abs((image.rgba[i + k] ?? 0) - c) <= tolerance)) count += 1;
  }
  return count;
}
