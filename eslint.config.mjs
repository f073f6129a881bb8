// Lint enforces the layers of the design: src/core, src/shared and src/launch never import
// `vscode` (they run in plain Node tests and in the `npm start` demo); webview code imports
// nothing from src/ except src/shared; nobody uses default exports.
import tseslint from 'typescript-eslint';

const noVscode = {
  name: 'vscode',
  message: 'This layer runs without VS Code (plain Node tests, the demo script): keep `vscode` out.',
};

const noDefaultExports = [
  { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
  { selector: 'ExportSpecifier[exported.name="default"]', message: 'Use named exports.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'python/**', 'demo-workspace/**', 'test-artifacts/**', '.vscode-test/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...noDefaultExports],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/shared/**/*.ts', 'src/launch/**/*.ts', 'test/unit/**/*.ts', 'test/remote/**/*.ts', 'test/package/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [noVscode] }],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ ...noVscode, message: 'Webview code runs in the browser: no `vscode` module.' }],
          patterns: [
            {
              regex: '(^|/)src/(?!shared(/|$))',
              message: 'Webview code may import only src/shared from the extension host.',
            },
          ],
        },
      ],
    },
  },
);
