// ESLint flat configuration of mlpipe-lab (TypeScript sources and JS configs).
import js from '@eslint/js';
import prettierConfig from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/',
      '**/lib/',
      '**/coverage/',
      '**/*.d.ts',
      'mlpipe_lab/',
      'tests/',
      'scripts/',
      'examples/',
      'benchmarks/',
      '.venv/',
      '.cache/',
      'ui-tests/test-results/',
      'ui-tests/playwright-report/'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // turns off the formatting rules that prettier owns; our rules below win
  prettierConfig,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: { ...globals.browser }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...globals.node }
    },
    rules: {
      '@typescript-eslint/no-require-imports': 'off'
    }
  },
  {
    files: ['style/**/*.js'],
    languageOptions: { sourceType: 'module' }
  },
  {
    files: ['**/__tests__/**', 'ui-tests/**'],
    languageOptions: {
      globals: { ...globals.jest, ...globals.node }
    }
  }
);
