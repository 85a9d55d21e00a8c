import { LIGHT_TEMPLATES, describeCoverage, describeTemplates } from './template-cases';

// Interpreted and quick-to-compile templates; rust, java and go live in templates-compiled.spec.ts.
// A template whose toolchain is missing fails here (CI installs every runtime: install-runtimes.sh).
describeCoverage();
describeTemplates(LIGHT_TEMPLATES, 30_000, 90_000);
