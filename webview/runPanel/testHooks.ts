// What e2e and render tests read from the run panel page. The DOM's data-* attributes
// (data-train-loss-points, data-run-status, ...) mirror the counts for tests that can only
// query the DOM; this accessor gives the points themselves.

import type { PlotArea } from './charts';
import type { SeriesName, SeriesPoint } from './series';

export interface RunPanelTestHooks {
  /** The points each series currently holds, read back from the Chart.js datasets. */
  chartData(): Record<SeriesName, SeriesPoint[]>;
  /** The loss chart's plot area in page CSS pixels, to crop screenshots. */
  lossPlotArea(): PlotArea;
  /** Series colours as resolved from the theme's CSS variables. */
  seriesColours(): Readonly<Record<SeriesName, string>>;
  /** Host messages the page ignored because they did not validate. */
  rejectedMessages(): number;
}

declare global {
  interface Window {
    __medvlmRunPanel?: RunPanelTestHooks;
  }
}
