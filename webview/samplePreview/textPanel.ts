// The sample's text: the exact prompt and target the trainer builds, and the chat-templated
// turn from the model's processor with the trained answer marked.

import type { ChatPayload, SamplePayload } from '../../src/shared/protocol/samplePreview';
import { el } from '../shared/dom';

export interface TextPanel {
  /** The headings and blocks, in page order. */
  readonly elements: readonly HTMLElement[];
  render(sample: SamplePayload | undefined, chat: ChatPayload | undefined): void;
}

export function createTextPanel(): TextPanel {
  const prompt = el('pre', 'prompt');
  const target = el('pre', 'target');
  const note = el('p', 'note');
  const chatText = el('pre', 'chat');
  const chatNote = el('p', 'note');
  return {
    elements: [el('h2', 'section', 'Prompt'), prompt, el('h2', 'section', 'Target'), target, note, el('h2', 'section', 'Chat-templated turn'), chatText, chatNote],
    render: (sample, chat) => {
      prompt.textContent = sample?.text?.prompt ?? '';
      target.textContent = sample?.text?.target ?? '';
      note.textContent = sample === undefined ? '' : (sample.textProblem ?? (sample.text === undefined && sample.slice !== undefined && sample.slice.index !== sample.slice.record ? 'The text belongs to the record’s own slice.' : ''));
      note.classList.toggle('error-text', sample?.textProblem !== undefined);
      const own = chat !== undefined && chat.index === sample?.index && sample.text !== undefined;
      chatText.replaceChildren();
      if (own && chat.text !== undefined) {
        // The answer (what the loss covers) marked in the conversation the collator encodes.
        const start = chat.answerStart ?? chat.text.length;
        const answer = el('span', 'answer', chat.text.slice(start));
        answer.title = 'The answer: the tokens the loss is computed on';
        chatText.append(chat.text.slice(0, start), answer);
      }
      chatNote.textContent = own ? (chat.unavailable ?? '') : sample?.text !== undefined ? 'Asking the model’s processor for its chat template…' : '';
    },
  };
}
