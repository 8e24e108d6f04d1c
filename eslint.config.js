// ESLint flat config, run by `npm run lint` (and so by `npm test`) before Prettier's check.
// typescript-eslint's `recommended` rules without type information, which keeps a run to seconds;
// every one of them holds over the tree as it is, so none is turned off. Prettier owns the layout;
// the one stylistic rule here is what Prettier cannot enforce: no line over 120 characters,
// comments and strings included (Prettier does not break those), URLs excepted.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['node_modules/', 'dist/', '.demo/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': [
        'error',
        {
          code: 120,
          tabWidth: 2,
          ignoreUrls: true,
          ignoreComments: false,
          ignoreTrailingComments: false,
          ignoreStrings: false,
          ignoreTemplateLiterals: false,
          ignoreRegExpLiterals: false,
        },
      ],
    },
  },
);
