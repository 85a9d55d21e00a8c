import { describeTemplates } from './template-cases';

// Compile-heavy templates (one suite, generous timeouts).
describeTemplates(['rust', 'java', 'go'], 120_000, 240_000);
