// The image controls of the sample preview: the display window (presets, or dragged on the
// image: across for width, up and down for level, as radiology viewers do) and stepping
// through the volume's other slices (buttons, or the mouse wheel over the image).

import type { SamplePayload } from '../../src/shared/protocol/samplePreview';
import { el } from '../shared/dom';
import type { DisplayWindow } from './draw';
import { percentileWindow, WINDOW_PRESETS } from './draw';

export interface WindowControl {
  readonly element: HTMLElement;
  /** The window to draw with; undefined draws the trainer's own grey levels. */
  current(): DisplayWindow | undefined;
  /** Lets dragging on `target` change the window, starting from the slice's value range. */
  attach(target: HTMLElement, range: () => { min: number; max: number } | undefined): void;
  /** Names the trained grey levels: the run config's window, or the reference's min-max. */
  trainedAs(normalization: string | undefined): void;
}

export function createWindowControl(onChange: () => void, values: () => Float32Array | undefined): WindowControl {
  let window: DisplayWindow | undefined;
  /** The MR preset's window follows the slice shown: recomputed when its values change. */
  let percentileOf: Float32Array | undefined;
  const select = el('select');
  select.setAttribute('aria-label', 'Display window');
  for (const preset of WINDOW_PRESETS) select.append(new Option(preset.label, preset.id));
  const custom = new Option('Custom', 'custom');
  custom.hidden = true;
  select.append(custom);
  const readout = el('span', 'note');
  const element = el('label', 'control', 'Grey levels');
  element.append(select, readout);
  const show = () => {
    readout.textContent = window === undefined ? '' : `W ${Math.round(window.width)} L ${Math.round(window.center)}`;
    element.dataset.window = window === undefined ? 'trained' : `${window.width}/${window.center}`;
  };
  select.addEventListener('change', () => {
    window = WINDOW_PRESETS.find((p) => p.id === select.value)?.window;
    percentileOf = undefined;
    show();
    onChange();
  });
  const current = (): DisplayWindow | undefined => {
    if (select.value === 'mr') {
      const v = values();
      if (v !== undefined && v !== percentileOf) {
        percentileOf = v;
        window = percentileWindow(v);
        show();
      }
    }
    return window;
  };
  show();
  const trained = select.options[0] as HTMLOptionElement;
  return {
    element,
    current,
    trainedAs: (normalization) => {
      trained.textContent = `As trained (${normalization ?? 'min-max'})`;
    },
    attach: (target, range) => {
      target.addEventListener('pointerdown', (down) => {
        const values = range();
        if (values === undefined || down.button !== 0) return;
        const start = window ?? { center: (values.min + values.max) / 2, width: Math.max(values.max - values.min, 1) };
        // One pixel of drag moves the window by 1/200 of the slice's value range.
        const unit = Math.max(values.max - values.min, 1) / 200;
        target.setPointerCapture(down.pointerId);
        const move = (event: PointerEvent) => {
          window = { width: Math.max(1, start.width + (event.clientX - down.clientX) * unit), center: start.center - (event.clientY - down.clientY) * unit };
          select.value = 'custom';
          percentileOf = undefined;
          show();
          onChange();
        };
        const up = () => {
          target.removeEventListener('pointermove', move);
          target.removeEventListener('pointerup', up);
        };
        target.addEventListener('pointermove', move);
        target.addEventListener('pointerup', up);
      });
    },
  };
}

/** A small text button (◀, +, a link-like "fit") with its accessible name. */
function smallButton(text: string, className: 'icon' | 'link', label?: string): HTMLButtonElement {
  const node = el('button', className, text);
  node.type = 'button';
  if (label !== undefined) node.setAttribute('aria-label', label);
  return node;
}

export interface SliceControl {
  readonly element: HTMLElement;
  show(slice: SamplePayload['slice']): void;
}

/** Prev/next buttons and a readout; `step` asks for the slice `delta` away. */
export function createSliceControl(step: (delta: number) => void): SliceControl {
  const element = el('span', 'control slice-control');
  const previous = smallButton('◀', 'icon', 'Previous slice');
  const next = smallButton('▶', 'icon', 'Next slice');
  const readout = el('span');
  const back = smallButton('back to the record’s slice', 'link');
  element.append('Slice', previous, readout, next, back);
  let current: SamplePayload['slice'];
  previous.addEventListener('click', () => step(-1));
  next.addEventListener('click', () => step(1));
  back.addEventListener('click', () => current !== undefined && step(current.record - current.index));
  return {
    element,
    show: (slice) => {
      current = slice;
      element.hidden = slice === undefined;
      if (slice === undefined) return;
      readout.textContent = `${slice.index} of 0–${slice.count - 1}${slice.index === slice.record ? ' (the record’s)' : ` (the record’s is ${slice.record}; overlays only there)`}`;
      previous.disabled = slice.index <= 0;
      next.disabled = slice.index >= slice.count - 1;
      back.hidden = slice.index === slice.record;
      element.dataset.slice = String(slice.index);
    },
  };
}

export interface ZoomControl {
  readonly element: HTMLElement;
  /** The drawing scale: the fitted one times the zoom. */
  scale(fitted: number): number;
  /** Ctrl (or Cmd) + wheel over `target` zooms; the stage then scrolls to pan. */
  attach(target: HTMLElement): void;
}

const ZOOMS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16];

/** Zoom in and out of the fitted image (buttons, or Ctrl + wheel); "Fit" goes back. */
export function createZoomControl(onChange: () => void): ZoomControl {
  let level = 0;
  const element = el('span', 'control slice-control');
  const out = smallButton('−', 'icon', 'Zoom out');
  const readout = el('span');
  const zoomIn = smallButton('+', 'icon', 'Zoom in');
  const fit = smallButton('fit', 'link');
  element.append('Zoom', out, readout, zoomIn, fit);
  const show = () => {
    readout.textContent = `${ZOOMS[level] ?? 1}x`;
    out.disabled = level === 0;
    zoomIn.disabled = level === ZOOMS.length - 1;
    fit.hidden = level === 0;
    element.dataset.zoom = String(ZOOMS[level] ?? 1);
  };
  const set = (next: number) => {
    const clamped = Math.max(0, Math.min(ZOOMS.length - 1, next));
    if (clamped === level) return;
    level = clamped;
    show();
    onChange();
  };
  out.addEventListener('click', () => set(level - 1));
  zoomIn.addEventListener('click', () => set(level + 1));
  fit.addEventListener('click', () => set(0));
  show();
  return {
    element,
    scale: (fitted) => fitted * (ZOOMS[level] ?? 1),
    attach: (target) =>
      target.addEventListener(
        'wheel',
        (event) => {
          if (!(event.ctrlKey || event.metaKey) || event.deltaY === 0) return;
          event.preventDefault();
          event.stopImmediatePropagation();
          set(level + (event.deltaY < 0 ? 1 : -1));
        },
        { passive: false, capture: true },
      ),
  };
}
