// What e2e and render tests read from the sample preview page (the DOM's data-* attributes,
// data-selected and data-drawn, say the same for tests that can only query the DOM).

export interface SamplePreviewTestHooks {
  selected(): number | undefined;
  drawnIndex(): number | undefined;
  canvasRect(): { left: number; top: number; width: number; height: number; scale: number } | undefined;
  rejectedMessages(): number;
}

declare global {
  interface Window {
    __medvlmSamplePreview?: SamplePreviewTestHooks;
  }
}

export {};
