import { Type, type Static } from '@sinclair/typebox';
import { Id, SessionEnvelope } from './envelope';

/** Id of a session's default context (its template's main kernel). */
export const DEFAULT_CONTEXT_ID = 'default';

/** The languages a context can run (one per kernel kind of libs/templates). */
export const CONTEXT_LANGUAGES = ['python', 'javascript', 'typescript', 'bash'] as const;
export type ContextLanguage = (typeof CONTEXT_LANGUAGES)[number];

const LANGUAGE_ALIASES: Readonly<Record<string, ContextLanguage>> = {
  python: 'python',
  python3: 'python',
  py: 'python',
  javascript: 'javascript',
  js: 'javascript',
  node: 'javascript',
  nodejs: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
  bash: 'bash',
  sh: 'bash',
  shell: 'bash',
};

/** `js` → `javascript`, `ts` → `typescript`, `python3` → `python`, …; undefined when not a context language. */
export function normalizeContextLanguage(language: string): ContextLanguage | undefined {
  return LANGUAGE_ALIASES[language.trim().toLowerCase()];
}

/**
 * Id of the lazily created default context of `language` in a session whose main language is
 * `mainLanguage` (`default` for the main language, `default-<language>` for the others).
 */
export function defaultContextId(language: ContextLanguage, mainLanguage: string): string {
  return language === mainLanguage ? DEFAULT_CONTEXT_ID : `${DEFAULT_CONTEXT_ID}-${language}`;
}

/** A context: one independent kernel of a session (same sandbox and limits as the others). */
export const ContextInfo = Type.Object({
  id: Type.String(),
  language: Type.String({ description: 'normalized: python, javascript, typescript or bash' }),
  cwd: Type.String({ description: 'sandbox path of its working directory' }),
});
export type ContextInfo = Static<typeof ContextInfo>;

export const ContextCreatePayload = Type.Object({
  ...SessionEnvelope,
  language: Type.String({
    minLength: 1,
    maxLength: 32,
    description: 'one of the template kernels (aliases ok)',
  }),
  cwd: Type.Optional(
    Type.String({ minLength: 1, maxLength: 4096, description: 'sandbox path (default /home/user)' }),
  ),
});
export const ContextCreateResult = ContextInfo;
export const ContextListPayload = Type.Object({ ...SessionEnvelope });
export const ContextListResult = Type.Object({ items: Type.Array(ContextInfo) });
export const ContextRestartPayload = Type.Object({ ...SessionEnvelope, context: Id('context id') });
export const ContextRemovePayload = Type.Object({ ...SessionEnvelope, context: Id('context id') });

export type ContextCreatePayload = Static<typeof ContextCreatePayload>;
export type ContextRestartPayload = Static<typeof ContextRestartPayload>;
export type ContextRemovePayload = Static<typeof ContextRemovePayload>;
