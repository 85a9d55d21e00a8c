import { JobError, type JobErrorCode } from '@executor/queues';
import { WorkspaceFsError, errnoCode, type WorkspaceFsErrorCode } from '@executor/workspace-fs';

/** What the caller was doing: decides whether "not a directory on the way" is absent or a conflict. */
export type FileOp = 'read' | 'write' | 'delete' | 'list';

const BY_CODE: Record<WorkspaceFsErrorCode, JobErrorCode | ((op: FileOp) => JobErrorCode)> = {
  invalid_path: 'invalid_argument',
  escape: 'invalid_argument',
  too_deep: 'invalid_argument',
  invalid_operation: 'invalid_argument',
  not_a_file: 'invalid_argument',
  not_found: 'not_found',
  // `a/b` where `a` is a file: nothing to read there; a write cannot create it.
  not_a_directory: (op) => (op === 'write' ? 'conflict' : 'not_found'),
  // GET of a directory is "no such file"; a PUT onto one is a conflict.
  is_a_directory: (op) => (op === 'write' ? 'conflict' : 'not_found'),
  exists: 'conflict',
  not_empty: 'conflict',
  unstable: 'conflict',
  too_large: 'payload_too_large',
  no_space: 'payload_too_large',
};

/**
 * Maps a workspace-fs failure to the job error the API shows. Expected outcomes — including the
 * races of a workspace that session code changes concurrently (an errno that escaped as ENOENT,
 * ENOTDIR or ELOOP) — get their code deliberately; anything else is rethrown unchanged and
 * stays `internal`.
 */
export function toJobError(err: unknown, op: FileOp, path: string): unknown {
  if (err instanceof JobError) return err;
  if (err instanceof WorkspaceFsError) {
    const m = BY_CODE[err.code];
    return new JobError(typeof m === 'function' ? m(op) : m, err.message);
  }
  const code = errnoCode(err);
  if (code === 'ENOENT' || (code === 'ENOTDIR' && op !== 'write'))
    return new JobError('not_found', `no file "${path}" in the workspace`);
  if (code === 'ENOTDIR') return new JobError('conflict', `a parent of "${path}" is not a directory`);
  if (code === 'ELOOP')
    return new JobError('invalid_argument', `"${path}" changed into a symlink while it was used`);
  return err;
}
