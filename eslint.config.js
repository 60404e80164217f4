// The layering rule of DESIGN.md, enforced mechanically: hardware (src/hw, src/devices)
// and software (src/os, src/hyp) never import each other; they meet only on the bus.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const hardwareMayNotImport = ['**/os/**', '**/hyp/**', '**/platform/**', '**/scenario/**', '**/cli/**', '**/report/**'];
const softwareMayNotImport = ['**/hw/**', '**/devices/**', '**/platform/**', '**/scenario/**', '**/cli/**', '**/report/**'];
const sharedMayNotImport = ['**/hw/**', '**/devices/**', '**/os/**', '**/hyp/**', '**/platform/**', '**/scenario/**', '**/cli/**', '**/report/**'];

function restrict(patterns, why) {
  return {
    'no-restricted-imports': ['error', { patterns: [{ group: patterns, message: why }] }],
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/hw/**/*.ts', 'src/devices/**/*.ts'],
    rules: restrict(hardwareMayNotImport, 'DESIGN.md: hardware models meet software only on the bus (registers, memory, interrupts).'),
  },
  {
    files: ['src/os/**/*.ts', 'src/hyp/**/*.ts'],
    rules: restrict(softwareMayNotImport, 'DESIGN.md: software drives hardware only through registers, memory and interrupts.'),
  },
  {
    files: ['src/sim/**/*.ts', 'src/formats/**/*.ts'],
    rules: restrict(sharedMayNotImport, 'DESIGN.md: sim and formats are shared by both sides and depend on neither.'),
  },
);
