/**
 * Errors of the session-state lib. Every one has a stable `code` so callers (the persistence
 * service, the executor) can map them to job error codes without parsing messages.
 */

/** An encoded state or a stored blob is corrupted, truncated or not ours: nothing was decoded. */
export class StateIntegrityError extends Error {
  readonly code = 'integrity' as const;
  constructor(message: string) {
    super(message);
    this.name = 'StateIntegrityError';
  }
}

/** An encoded state uses a schema version this build cannot read (newer than it). */
export class StateVersionError extends Error {
  readonly code = 'unsupported_version' as const;
  constructor(
    readonly version: number,
    message: string,
  ) {
    super(message);
    this.name = 'StateVersionError';
  }
}

/** A workspace entry would land outside the workspace root (`..`, absolute path, hostile symlink). */
export class WorkspaceEscapeError extends Error {
  readonly code = 'escape' as const;
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`workspace entry "${path}" is refused: ${reason}`);
    this.name = 'WorkspaceEscapeError';
  }
}

/** Reasons a workspace exceeds a configured limit. */
export const WorkspaceLimitReasons = { files: 'too_many_files', bytes: 'too_many_bytes' } as const;
export type WorkspaceLimitReason = (typeof WorkspaceLimitReasons)[keyof typeof WorkspaceLimitReasons];

/** A workspace has more files or bytes than allowed (`maxFiles` / `maxBytes`). */
export class WorkspaceLimitError extends Error {
  readonly code = 'limit' as const;
  constructor(
    readonly reason: WorkspaceLimitReason,
    readonly limit: number,
    message: string,
  ) {
    super(message);
    this.name = 'WorkspaceLimitError';
  }
}

/** An entry list is malformed (e.g. a file without content where content is required). */
export class WorkspaceEntryError extends Error {
  readonly code = 'invalid_entry' as const;
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`workspace entry "${path}": ${reason}`);
    this.name = 'WorkspaceEntryError';
  }
}
