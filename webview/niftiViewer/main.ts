// Entry point of the NIfTI viewer webview (bundled to dist/webview/niftiViewer.js): a volume's
// header, and one slice at a time in any of its three planes, with the sample preview's
// display windows. The slider, the mouse wheel over the image or the arrow keys step through
// the slices; the host sends each one. On every load it posts `ready` and starts again.

import { on } from '../../src/shared/protocol/dispatch';
import type { SlicePayload, VolumeInfo } from '../../src/shared/protocol/niftiViewer';
import { ShowSliceMessage, SliceMessage, ViewerReadyMessage, VolumeErrorMessage, VolumeMessage } from '../../src/shared/protocol/niftiViewer';
import { el } from '../shared/dom';
import { listenToHost, postToHost } from '../shared/vscodeApi';
import { createWindowControl, createZoomControl } from '../samplePreview/controls';
import { drawSample, fitScale, sliceCanvas } from '../samplePreview/draw';

const PLANES = ['dimension 0 (x): rows y, columns z', 'dimension 1 (y): rows x, columns z', 'dimension 2 (z): rows x, columns y'];
const NO_LAYERS = { boxes: false, points: false, lines: false };

function start(): void {
  const root = document.getElementById('app') ?? document.body;
  let volume: VolumeInfo | undefined;
  let shown: SlicePayload | undefined;
  let wanted: { dim: number; index: number } | undefined;
  let slice: HTMLCanvasElement | undefined;

  const title = el('h1', 'title');
  const status = el('p', 'note', 'Reading the volume…');
  const plane = el('select');
  plane.setAttribute('aria-label', 'Plane');
  PLANES.forEach((label, dim) => plane.append(new Option(`Slices along ${label}`, String(dim))));
  const slider = el('input');
  slider.type = 'range';
  slider.min = '0';
  slider.setAttribute('aria-label', 'Slice');
  const sliceValue = el('span', 'value');
  const windowControl = createWindowControl(
    () => {
      if (shown === undefined) return;
      slice = sliceCanvas(shown.image, windowControl.current());
      redraw();
    },
    () => shown?.image.values,
  );
  const control = (label: string, ...inputs: HTMLElement[]) => {
    const box = el('label', 'control', label);
    box.append(...inputs);
    return box;
  };
  const zoom = createZoomControl(() => redraw());
  const toolbar = el('div', 'toolbar');
  toolbar.append(control('Plane', plane), control('Slice', slider, sliceValue), windowControl.element, zoom.element);
  const canvas = el('canvas');
  canvas.setAttribute('role', 'img');
  const stage = el('div', 'stage');
  stage.append(canvas);
  const info = el('p', 'note');
  const header = el('table', 'header');
  const layout = el('div', 'layout');
  const left = el('div');
  left.append(stage, info);
  layout.append(left, header);
  root.append(title, status, toolbar, layout);
  windowControl.attach(canvas, () => shown?.image);
  zoom.attach(canvas);

  const redraw = () => {
    if (shown === undefined || slice === undefined) return;
    const scale = fitScale(shown.image, Math.max(128, stage.clientWidth || 512), Math.max(256, window.innerHeight - 160));
    drawSample(canvas, slice, zoom.scale(scale), undefined, NO_LAYERS, shown.image.spacing?.[1]);
    document.body.dataset.shown = `${shown.dim}:${shown.index}`;
  };

  const request = (dim: number, index: number) => {
    if (volume === undefined) return;
    const count = volume.shape[dim] ?? 1;
    const clamped = Math.min(count - 1, Math.max(0, index));
    wanted = { dim, index: clamped };
    slider.max = String(count - 1);
    slider.value = String(clamped);
    sliceValue.textContent = `${clamped} of 0–${count - 1}`;
    postToHost(ShowSliceMessage, wanted);
  };

  plane.addEventListener('change', () => {
    const dim = Number(plane.value);
    request(dim, Math.floor(((volume?.shape[dim] ?? 1) - 1) / 2));
  });
  slider.addEventListener('input', () => request(Number(plane.value), Number(slider.value)));
  canvas.addEventListener(
    'wheel',
    (event) => {
      if (wanted === undefined || event.deltaY === 0) return;
      event.preventDefault();
      request(wanted.dim, wanted.index + (event.deltaY > 0 ? 1 : -1));
    },
    { passive: false },
  );
  window.addEventListener('keydown', (event) => {
    if (wanted === undefined || event.target instanceof HTMLSelectElement || event.target instanceof HTMLInputElement) return;
    const delta = event.key === 'ArrowRight' || event.key === 'ArrowDown' || event.key === 'PageDown' ? 1 : event.key === 'ArrowLeft' || event.key === 'ArrowUp' || event.key === 'PageUp' ? -1 : 0;
    if (delta === 0) return;
    event.preventDefault();
    request(wanted.dim, wanted.index + delta);
  });
  window.addEventListener('resize', redraw);

  listenToHost([
    on(VolumeMessage, (info) => {
      volume = info;
      title.textContent = info.file;
      status.textContent = '';
      const rows: Array<[string, string]> = [
        ['Dimensions', info.shape.join(' x ')],
        ['Voxel size', `${info.spacing.map((v) => Number(v.toPrecision(6))).join(' x ')} (pixdim)`],
        ['Voxel type', info.dtype],
        ['Format', `NIfTI-${info.version}, ${info.littleEndian ? 'little' : 'big'}-endian`],
        ['Scaling', info.slope === 1 && info.inter === 0 ? 'none' : `value x ${info.slope} + ${info.inter}`],
      ];
      header.replaceChildren(
        ...rows.map(([name, value]) => {
          const row = el('tr');
          row.append(el('th', undefined, name), el('td', undefined, value));
          return row;
        }),
      );
      plane.value = '2';
      request(2, Math.floor((info.shape[2] - 1) / 2));
    }),
    on(SliceMessage, (payload) => {
      // Only the slice asked for last; a quick scroll skips the ones in between.
      if (wanted === undefined || payload.dim !== wanted.dim || payload.index !== wanted.index) return;
      shown = payload;
      slice = sliceCanvas(payload.image, windowControl.current());
      info.textContent = `${payload.image.height} x ${payload.image.width} px · values ${payload.image.min} to ${payload.image.max}`;
      redraw();
    }),
    on(VolumeErrorMessage, ({ message }) => {
      status.textContent = message;
      status.classList.add('error-text');
      document.body.dataset.error = 'true';
    }),
  ]);
  postToHost(ViewerReadyMessage, {});
}

start();
