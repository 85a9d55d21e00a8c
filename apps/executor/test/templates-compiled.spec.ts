import { COMPILED_TEMPLATES, describeTemplates } from './template-cases';

// Compile-heavy templates (one suite, generous timeouts).
describeTemplates(COMPILED_TEMPLATES, 120_000, 240_000);
