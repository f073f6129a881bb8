// Entry point of the sample preview webview (bundled to dist/webview/samplePreview.js). The
// host owns the records and sends one sample at a time; the page lists the records (filter
// by task kind, jump to an index, arrow keys or j/k for next and previous) and draws the
// selected sample with its overlays, measurements and the trainer's exact prompt and target.
// On every load it posts `ready` and the host resends everything.

import { on } from '../../src/shared/protocol/dispatch';
import { imageTokens, modelImageSize } from '../../src/shared/preview/formatting';
import type { ChatPayload, InitPayload, ModelFamily, RecordItem, SamplePayload } from '../../src/shared/protocol/samplePreview';
import { ChatMessage, FAMILY_LABELS, FamilyMessage, InitMessage, MODEL_FAMILIES, ReadyMessage, SampleMessage, SelectMessage } from '../../src/shared/protocol/samplePreview';
import { el } from '../shared/dom';
import { listenToHost, postToHost } from '../shared/vscodeApi';
import type { Layers } from './draw';
import { createSliceControl, createWindowControl, createZoomControl } from './controls';
import { drawSample, fitScale, resizedCanvas, sliceCanvas, targetBox } from './draw';
import type { SamplePreviewTestHooks } from './testHooks';
import { createTextPanel } from './textPanel';

const KIND_LABELS: Readonly<Record<string, string>> = {
  detection: 'detection',
  tumor_lesion: 'tumour/lesion',
  angle_distance: 'angle/distance',
  generic: 'generic',
};

function start(): void {
  const root = document.getElementById('app') ?? document.body;
  let init: InitPayload | undefined;
  let selected: number | undefined;
  /** Another slice than the record's own, while the user steps through the volume. */
  let wantedSlice: number | undefined;
  let sample: SamplePayload | undefined;
  let slice: HTMLCanvasElement | undefined;
  let scale = 1;
  /** The chat-templated turn of the shown sample, once the host has it. */
  let chat: ChatPayload | undefined;
  /** Show the image at the model's input size instead of the stored pixels. */
  let modelView = false;
  /** The shown slice resampled to the model's input size, while it is the one shown. */
  let resized: { from: HTMLCanvasElement; canvas: HTMLCanvasElement } | undefined;
  const layers: { -readonly [K in keyof Layers]: boolean } = { boxes: true, points: true, lines: true };

  // --- Layout ---------------------------------------------------------------------------
  const title = el('h1', 'title');
  const source = el('p', 'note');
  const kindFilter = el('select');
  kindFilter.setAttribute('aria-label', 'Task kind');
  const family = el('select');
  family.setAttribute('aria-label', 'Model family');
  for (const f of MODEL_FAMILIES) family.append(new Option(FAMILY_LABELS[f], f));
  const jump = el('input');
  jump.type = 'number';
  jump.min = '0';
  jump.setAttribute('aria-label', 'Go to record index');
  const splitFilter = el('select');
  splitFilter.setAttribute('aria-label', 'Split');
  for (const [value, label] of [['', 'All'], ['train', 'train'], ['val', 'validation'], ['unused', 'unused'], ['error', 'error']]) splitFilter.append(new Option(label, value));
  const search = el('input');
  search.type = 'search';
  search.title = 'Words of the dataset, label or metric';
  search.setAttribute('aria-label', 'Filter records');
  const count = el('span', 'note');
  const control = (label: string, input: HTMLElement) => {
    const box = el('label', 'control', label);
    box.append(input);
    return box;
  };
  const toolbar = el('div', 'toolbar');
  const splitControl = control('Split', splitFilter);
  splitControl.hidden = true;
  toolbar.append(control('Kind', kindFilter), splitControl, control('Filter', search), control('Model', family), control('Go to', jump), count);
  const list = el('ul', 'records');
  list.setAttribute('role', 'listbox');
  list.tabIndex = 0;
  list.setAttribute('aria-label', 'Records');
  const caption = el('p', 'caption');
  const problems = el('ul', 'problems');
  const canvas = el('canvas');
  canvas.setAttribute('role', 'img');
  const stage = el('div', 'stage');
  stage.append(canvas);
  const windowControl = createWindowControl(
    () => {
      if (sample?.image === undefined) return;
      slice = sliceCanvas(sample.image, windowControl.current());
      redraw();
    },
    () => sample?.image?.values,
  );
  windowControl.attach(canvas, () => sample?.image);
  const sliceControl = createSliceControl((delta) => stepSlice(delta));
  const zoom = createZoomControl(() => redraw());
  zoom.attach(canvas);
  canvas.addEventListener(
    'wheel',
    (event) => {
      if (sample?.slice === undefined || event.deltaY === 0) return;
      event.preventDefault();
      stepSlice(event.deltaY > 0 ? 1 : -1);
    },
    { passive: false },
  );
  const toggles = el('div', 'toolbar');
  for (const [key, label] of [['boxes', 'Boxes'], ['points', 'Landmarks'], ['lines', 'Lines and axes']] as const) {
    const box = el('input');
    box.type = 'checkbox';
    box.checked = true;
    box.dataset.layer = key;
    box.addEventListener('change', () => {
      layers[key] = box.checked;
      redraw();
    });
    toggles.append(control(label, box));
  }
  const info = el('p', 'note');
  const measures = el('table', 'measures');
  const texts = createTextPanel();
  const modelInput = el('input');
  modelInput.type = 'checkbox';
  modelInput.title = 'Show the image at the size the model family’s processor resizes it to';
  modelInput.addEventListener('change', () => {
    modelView = modelInput.checked;
    renderSample();
  });
  const detail = el('section', 'sample');
  const imageTools = el('div', 'toolbar');
  imageTools.append(windowControl.element, sliceControl.element, zoom.element, control('Model input', modelInput));
  detail.append(
    caption,
    problems,
    toggles,
    imageTools,
    stage,
    info,
    measures,
    ...texts.elements,
  );
  const body = el('div', 'body');
  body.append(list, detail);
  root.append(title, source, toolbar, body);

  // --- Rendering ------------------------------------------------------------------------
  const visible = (): RecordItem[] => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    return (init?.records ?? []).filter((r) => {
      if (kindFilter.value !== '' && (r.kind ?? 'error') !== kindFilter.value) return false;
      if (splitFilter.value !== '' && r.split !== splitFilter.value) return false;
      const text = [r.kind, r.dataset, r.detail, r.error].filter(Boolean).join(' ').toLowerCase();
      return words.every((w) => text.includes(w));
    });
  };

  const renderList = () => {
    const items = visible();
    list.replaceChildren(
      ...items.map((item) => {
        const row = el('li');
        row.setAttribute('role', 'option');
        row.dataset.index = String(item.index);
        row.setAttribute('aria-selected', String(item.index === selected));
        row.append(el('span', 'index', String(item.index)), el('span', 'kind', item.kind !== undefined ? (KIND_LABELS[item.kind] ?? item.kind) : 'error'));
        row.append(el('span', 'detail', item.error ?? [item.dataset, item.detail, item.split].filter(Boolean).join(' · ')));
        if (item.error !== undefined) row.classList.add('broken');
        row.addEventListener('click', () => select(item.index));
        return row;
      }),
    );
    count.textContent = `${items.length} of ${init?.records.length ?? 0} records`;
    list.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  };

  /** The stored [H, W] of the shown image or picture. */
  const storedSize = (): [number, number] | undefined =>
    sample?.image !== undefined ? [sample.image.height, sample.image.width] : slice !== undefined && sample?.picture !== undefined ? [slice.height, slice.width] : undefined;

  /** The model's input [H, W] for the shown image, or why there is none. */
  const modelSize = (): [number, number] | undefined => {
    const stored = storedSize();
    if (stored === undefined || sample?.resize === undefined) return undefined;
    try {
      return modelImageSize(sample.resize, stored[0], stored[1]);
    } catch {
      return undefined; // an aspect ratio the processor refuses: the text says why
    }
  };

  const renderText = () => {
    texts.render(sample, chat);
    const stored = storedSize();
    const model = modelSize();
    if (stored !== undefined && sample?.resize !== undefined) {
      const family = FAMILY_LABELS[sample.resize.family];
      info.dataset.modelSize = model !== undefined ? `${model[0]}x${model[1]}` : '';
      const values = sample.image !== undefined ? ` · values ${sample.image.min} to ${sample.image.max}` : '';
      const input = model !== undefined ? `${model[0]} x ${model[1]} px as ${family} input, ${imageTokens(sample.resize, model[0], model[1])} image tokens` : `not a valid ${family} input`;
      info.textContent = `${stored[0]} x ${stored[1]} px stored · ${input}${values}${modelView && model !== undefined ? ' · showing the model input (browser resampling)' : ''}`;
    }
  };

  /** The selected detection record's target text drawn back, on its own slice only. */
  const detectionTarget = () => {
    if (sample?.image === undefined || sample.overlays === undefined || sample.text === undefined) return undefined;
    const kind = init?.records.find((r) => r.index === sample?.index)?.kind;
    if (kind !== 'detection') return undefined;
    return targetBox(sample.text.target, sample.image.width, sample.image.height);
  };

  const redraw = () => {
    if (sample === undefined || slice === undefined) return;
    const model = modelView ? modelSize() : undefined;
    // Resampled once per slice canvas and size: zooming and toggling layers redraw the same one.
    if (model !== undefined && (resized?.from !== slice || resized.canvas.height !== model[0] || resized.canvas.width !== model[1])) {
      resized = { from: slice, canvas: resizedCanvas(slice, model[0], model[1]) };
    }
    const shown = model !== undefined && resized !== undefined ? resized.canvas : slice;
    const stretch: [number, number] = model !== undefined ? [model[1] / slice.width, model[0] / slice.height] : [1, 1];
    drawSample(canvas, shown, zoom.scale(scale / stretch[0]), sample.overlays, layers, sample.image?.spacing?.[1], detectionTarget(), stretch);
    document.body.dataset.drawn = String(sample.index);
    document.body.dataset.view = model !== undefined ? 'model' : 'stored';
  };

  const renderSample = () => {
    if (sample === undefined) return;
    caption.textContent = sample.caption;
    problems.replaceChildren(...sample.problems.map((p) => el('li', 'error-text', p)));
    windowControl.trainedAs(sample.image?.normalization);
    slice = sample.image !== undefined ? sliceCanvas(sample.image, windowControl.current()) : undefined;
    sliceControl.show(sample.slice);
    // Display windows apply to a volume's values, not to a picture's colours.
    windowControl.element.hidden = sample.picture !== undefined;
    stage.hidden = slice === undefined && sample.picture === undefined;
    if (sample.image !== undefined) {
      scale = fitScale(sample.image, Math.max(128, stage.clientWidth || detail.clientWidth || 512), 640);
      canvas.setAttribute('aria-label', `slice ${sample.caption}`);
      info.textContent = `${sample.image.height} x ${sample.image.width} px stored · values ${sample.image.min} to ${sample.image.max}`;
      info.dataset.modelSize = '';
    } else if (sample.picture !== undefined) {
      info.textContent = '';
      void showPicture(sample);
    } else {
      info.textContent = '';
      document.body.dataset.drawn = String(sample.index);
    }
    measures.replaceChildren(
      ...sample.measurements.map((m) => {
        const row = el('tr');
        const diff = m.recorded !== undefined ? ` (record: ${m.recorded.toFixed(2)})` : '';
        row.append(el('td', undefined, m.label), el('td', 'number', `${m.measured.toFixed(2)} ${m.unit}${diff}`));
        return row;
      }),
    );
    redraw();
    renderText();
  };

  /** Decodes a generic record's PNG or JPEG (in the page, off the host) and draws it. */
  const showPicture = async (shown: SamplePayload) => {
    const picture = shown.picture;
    if (picture === undefined) return;
    try {
      const bitmap = await createImageBitmap(new Blob([picture.bytes as BlobPart], { type: picture.mime }));
      if (sample !== shown) return;
      const canvasOf = document.createElement('canvas');
      canvasOf.width = bitmap.width;
      canvasOf.height = bitmap.height;
      (canvasOf.getContext('2d') as CanvasRenderingContext2D).drawImage(bitmap, 0, 0);
      slice = canvasOf;
      scale = fitScale(bitmap, Math.max(128, stage.clientWidth || detail.clientWidth || 512), 640);
      canvas.setAttribute('aria-label', `picture ${shown.caption}`);
      info.textContent = `${bitmap.height} x ${bitmap.width} px ${picture.mime === 'image/png' ? 'PNG' : 'JPEG'}`;
      renderText();
      redraw();
    } catch {
      problems.append(el('li', 'error-text', 'the picture cannot be decoded: is the file a valid PNG or JPEG?'));
      document.body.dataset.drawn = String(shown.index);
    }
  };

  const select = (index: number) => {
    if (init === undefined || index < 0 || index >= init.records.length) return;
    selected = index;
    wantedSlice = undefined;
    document.body.dataset.selected = String(index);
    for (const row of list.querySelectorAll('li')) row.setAttribute('aria-selected', String(row.dataset.index === String(index)));
    list.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
    postToHost(SelectMessage, { index });
  };

  const stepSlice = (delta: number) => {
    const at = sample?.slice;
    if (at === undefined || selected === undefined || sample?.index !== selected) return;
    const next = Math.min(at.count - 1, Math.max(0, at.index + delta));
    if (next === at.index) return;
    wantedSlice = next === at.record ? undefined : next;
    postToHost(SelectMessage, wantedSlice === undefined ? { index: selected } : { index: selected, slice: wantedSlice });
  };

  const step = (delta: number) => {
    const items = visible();
    if (items.length === 0) return;
    const at = items.findIndex((r) => r.index === selected);
    const next = items[Math.min(items.length - 1, Math.max(0, at < 0 ? 0 : at + delta))];
    if (next !== undefined) select(next.index);
  };

  // --- Input ----------------------------------------------------------------------------
  window.addEventListener('keydown', (event) => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    if (event.key === 'ArrowDown' || event.key === 'j') step(1);
    else if (event.key === 'ArrowUp' || event.key === 'k') step(-1);
    else if (event.key === 'ArrowRight' || event.key === 'PageDown') stepSlice(1);
    else if (event.key === 'ArrowLeft' || event.key === 'PageUp') stepSlice(-1);
    else return;
    event.preventDefault();
  });
  search.addEventListener('input', () => renderList());
  splitFilter.addEventListener('change', () => renderList());
  kindFilter.addEventListener('change', () => {
    renderList();
    const items = visible();
    if (items.length > 0 && !items.some((r) => r.index === selected)) select((items[0] as RecordItem).index);
  });
  family.addEventListener('change', () => {
    chat = undefined;
    postToHost(FamilyMessage, { family: family.value as ModelFamily });
  });
  jump.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    const index = Number(jump.value);
    if (Number.isInteger(index)) select(index);
  });
  window.addEventListener('resize', () => {
    if (sample?.image === undefined) return;
    scale = fitScale(sample.image, Math.max(128, stage.clientWidth), 640);
    redraw();
  });

  const stats = listenToHost([
    on(InitMessage, (payload) => {
      init = payload;
      title.textContent = payload.title;
      source.textContent = payload.source;
      family.value = payload.family;
      const kinds = [...new Set(payload.records.map((r) => r.kind ?? 'error'))];
      kindFilter.replaceChildren(new Option('All', ''), ...kinds.map((k) => new Option(KIND_LABELS[k] ?? k, k)));
      jump.max = String(Math.max(0, payload.records.length - 1));
      splitControl.hidden = !payload.records.some((r) => r.split !== undefined);
      selected = payload.selected >= 0 && payload.selected < payload.records.length ? payload.selected : undefined;
      document.body.dataset.selected = String(selected ?? -1);
      renderList();
      document.body.dataset.records = String(payload.records.length);
    }),
    on(SampleMessage, (payload) => {
      // Only the sample asked for last: a slow volume must not overwrite a later choice.
      if (payload.index !== selected) return;
      const shown = payload.slice === undefined || payload.slice.index === payload.slice.record ? undefined : payload.slice.index;
      if (shown !== wantedSlice) return;
      if (payload.resize !== undefined) family.value = payload.resize.family;
      if (sample?.index !== payload.index || sample.resize?.family !== payload.resize?.family) chat = undefined;
      sample = payload;
      renderSample();
      document.body.dataset.texts = payload.resize?.family ?? '';
    }),
    on(ChatMessage, (payload) => {
      if (payload.index !== sample?.index || payload.family !== sample.resize?.family) return;
      chat = payload;
      renderText();
      document.body.dataset.chat = `${payload.index}:${payload.text !== undefined ? 'text' : 'unavailable'}`;
    }),
  ]);

  const hooks: SamplePreviewTestHooks = {
    selected: () => selected,
    drawnIndex: () => sample?.index,
    canvasRect: () => {
      if (sample?.image === undefined) return undefined;
      const rect = canvas.getBoundingClientRect();
      return { left: rect.left, top: rect.top, width: rect.width, height: rect.height, scale };
    },
    rejectedMessages: () => stats.rejected,
  };
  window.__medvlmSamplePreview = hooks;
  postToHost(ReadyMessage, {});
}

start();
