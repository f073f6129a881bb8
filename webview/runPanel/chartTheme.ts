// The charts' colours and font, resolved on the page from VS Code's --vscode-* variables
// (canvas drawing, and a worker, cannot read CSS) and re-read when the theme changes.

import { cssVar } from '../shared/theme';
import type { ChartTheme } from './chartProtocol';

/** Fallbacks are VS Code's Dark Modern values, for a page opened outside VS Code. */
export function readChartTheme(): ChartTheme {
  const blue = cssVar('--vscode-charts-blue', '#3794ff');
  const orange = cssVar('--vscode-charts-orange', '#d18616');
  const purple = cssVar('--vscode-charts-purple', '#b180d7');
  const green = cssVar('--vscode-charts-green', '#89d185');
  const red = cssVar('--vscode-charts-red', '#f14c4c');
  const yellow = cssVar('--vscode-charts-yellow', '#cca700');
  const foreground = cssVar('--vscode-editor-foreground', '#cccccc');
  return {
    foreground,
    muted: cssVar('--vscode-descriptionForeground', '#9d9d9d'),
    grid: cssVar('--vscode-editorWidget-border', 'rgba(128, 128, 128, 0.35)'),
    fontFamily: cssVar('--vscode-font-family', 'sans-serif'),
    series: {
      trainLoss: blue,
      evalLoss: orange,
      learningRate: purple,
      gradNorm: green,
      samplesPerS: yellow,
      gpuMemGb: red,
      evalMae: orange,
      evalMre: orange,
      evalIou: orange,
      evalSuccessRate: orange,
    },
    // Eight distinct hues for compare mode (MAX_COMPARE_RUNS); the last ones are fixed
    // because VS Code themes define only six chart colours.
    runs: [blue, orange, green, purple, red, yellow, '#4ec9b0', '#ce9178'],
  };
}
