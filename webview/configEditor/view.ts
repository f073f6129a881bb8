// The config editor page around the form: the toolbar (presets, Show YAML, Start SFT run),
// the banners (read-only because of YAML syntax errors, a refused edit), the problems that
// belong to no field, and the derived numbers. Text goes in through textContent only.

import type { ConfigEditorState, DerivedItem, PresetChoice, StateProblem } from '../../src/shared/protocol/configEditor';
import { button, el } from '../shared/dom';
import { problemList, renderProblems, setDisabled, setRichText } from './dom';

export interface PageActions {
  applyPreset(id: string): void;
  startRun(): void;
  showText(): void;
}

export class ConfigEditorPage {
  readonly formRoot: HTMLElement;
  private readonly title: HTMLElement;
  private readonly checkStatus: HTMLElement;
  private readonly presetSelect: HTMLElement & { value: string; disabled: boolean };
  private presetIds = '';
  private readonly startButton: HTMLElement;
  private readonly startReason: HTMLElement;
  private readonly readOnlyBanner: HTMLElement;
  private readonly readOnlyText: HTMLElement;
  private readonly noticeBanner: HTMLElement;
  private readonly topProblems: HTMLElement;
  private readonly topProblemList: HTMLElement;
  private readonly derivedList: HTMLElement;

  constructor(root: HTMLElement, actions: PageActions) {
    const toolbar = el('header', 'toolbar');
    this.title = el('h1', 'title', 'Run config');
    this.checkStatus = el('span', 'check-status');
    this.checkStatus.setAttribute('role', 'status');
    const buttons = el('div', 'actions');
    this.presetSelect = document.createElement('vscode-single-select');
    this.presetSelect.id = 'preset';
    this.presetSelect.setAttribute('aria-label', 'Apply preset');
    this.presetSelect.addEventListener('change', () => {
      const id = this.presetSelect.value;
      if (id !== '') {
        // The select is an action, not a setting: it goes back to its prompt right away.
        this.presetSelect.value = '';
        actions.applyPreset(id);
      }
    });
    this.startButton = button('Start SFT run', actions.startRun, false);
    this.startButton.id = 'start-run';
    const showText = button('Show YAML', actions.showText);
    showText.id = 'show-text';
    buttons.append(this.presetSelect, showText, this.startButton);
    this.startReason = el('p', 'start-reason');
    this.startReason.hidden = true;
    toolbar.append(this.title, this.checkStatus, buttons, this.startReason);

    this.readOnlyBanner = el('section', 'banner readonly');
    this.readOnlyBanner.setAttribute('role', 'alert');
    this.readOnlyBanner.hidden = true;
    this.readOnlyText = el('p');
    this.readOnlyBanner.append(el('h2', undefined, 'The form is read-only'), this.readOnlyText);

    this.noticeBanner = el('section', 'banner notice');
    this.noticeBanner.setAttribute('role', 'alert');
    this.noticeBanner.hidden = true;

    this.topProblems = el('section', 'top-problems');
    this.topProblems.hidden = true;
    this.topProblemList = problemList();
    this.topProblems.append(el('h2', undefined, 'Problems outside the form’s fields'), this.topProblemList);

    const layout = el('div', 'layout');
    this.formRoot = el('div', 'form');
    this.formRoot.id = 'form';
    const derived = el('aside', 'derived');
    derived.setAttribute('aria-labelledby', 'derived-heading');
    const heading = el('h2', undefined, 'Derived numbers');
    heading.id = 'derived-heading';
    this.derivedList = el('dl', 'derived-list');
    derived.append(heading, this.derivedList);
    layout.append(derived, this.formRoot);

    root.append(toolbar, this.readOnlyBanner, this.noticeBanner, this.topProblems, layout);
  }

  renderState(state: ConfigEditorState, readOnlyReason: string | undefined, unplaced: readonly StateProblem[]): void {
    this.title.textContent = state.fileName;
    document.title = state.fileName;
    this.checkStatus.textContent = checkText(state);
    this.checkStatus.dataset.check = state.trainerCheck;

    this.renderPresets(state.presets);
    setDisabled(this.presetSelect, readOnlyReason !== undefined || state.presets.length === 0);
    setDisabled(this.startButton, !state.startRun.enabled);
    this.startReason.textContent = state.startRun.enabled ? '' : (state.startRun.reason ?? '');
    this.startReason.hidden = state.startRun.enabled || state.startRun.reason === undefined;

    this.readOnlyBanner.hidden = readOnlyReason === undefined;
    this.readOnlyText.textContent = readOnlyReason ?? '';
    document.body.dataset.readOnly = String(readOnlyReason !== undefined);

    renderProblems(this.topProblemList, unplaced, true);
    this.topProblems.hidden = unplaced.length === 0;
    this.renderDerived(state.derived);
  }

  showNotice(severity: 'error' | 'info', message: string | undefined): void {
    this.noticeBanner.hidden = message === undefined;
    this.noticeBanner.dataset.severity = severity;
    this.noticeBanner.textContent = message ?? '';
  }

  private renderPresets(presets: readonly PresetChoice[]): void {
    const ids = presets.map((p) => `${p.id}\u0000${p.label}`).join('\u0001');
    if (ids === this.presetIds) {
      return;
    }
    this.presetIds = ids;
    const prompt = document.createElement('vscode-option');
    prompt.setAttribute('value', '');
    prompt.textContent = presets.length > 0 ? 'Apply preset…' : 'No presets';
    const options = presets.map((preset) => {
      const option = document.createElement('vscode-option');
      option.setAttribute('value', preset.id);
      option.textContent = preset.label;
      option.description = preset.detail;
      return option;
    });
    this.presetSelect.replaceChildren(prompt, ...options);
    this.presetSelect.value = '';
  }

  private renderDerived(items: readonly DerivedItem[]): void {
    this.derivedList.replaceChildren(
      ...items.map((item) => {
        const row = el('div', 'derived-item');
        row.dataset.derived = item.key;
        const value = el('dd', 'derived-value', item.value ?? 'unknown');
        value.classList.toggle('unknown', item.value === undefined);
        row.append(el('dt', undefined, item.label), value);
        if (item.why !== undefined && item.value === undefined) {
          // Why a number is unknown is what the user needs to act on, so it is always shown.
          const why = el('dd', 'derived-why');
          setRichText(why, item.why);
          row.append(why);
        } else if (item.why !== undefined) {
          // How a known number comes about is there on hover, keeping the panel short.
          row.title = item.why;
        }
        if (item.breakdown !== undefined && item.breakdown.length > 0) {
          const list = el('ul', 'breakdown');
          for (const part of item.breakdown) {
            const li = el('li');
            li.append(el('span', undefined, part.label), el('span', 'breakdown-value', part.value));
            list.append(li);
          }
          const dd = el('dd');
          dd.append(list);
          row.append(dd);
        }
        return row;
      }),
    );
  }
}

function checkText(state: ConfigEditorState): string {
  switch (state.trainerCheck) {
    case 'pending':
      return 'Checking with the trainer…';
    case 'done':
      return state.trainerMessage ?? 'Checked by the trainer';
    case 'unavailable':
      return state.trainerMessage ?? 'Trainer check unavailable: schema checks only';
  }
}
