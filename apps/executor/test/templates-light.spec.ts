import { describeTemplates } from './template-cases';

// Interpreted and quick-to-compile templates; rust, java and go live in templates-compiled.spec.ts.
describeTemplates(
  [
    'python',
    'python-data',
    'node',
    'typescript',
    'bash',
    'c',
    'cpp',
    'ruby',
    'r',
    'code-interpreter-v1',
    'base',
  ],
  30_000,
  90_000,
);
