import { WorkspaceFsError, workspacePath as normalizeWorkspacePath } from '@executor/workspace-fs';
import { ApiError } from '../http/api-error';

/**
 * The workspace path of a /files/{path} URL, normalised by libs/workspace-fs (the one
 * path-safety module): relative to the workspace, or absolute under `/home/user` (how session
 * code sees it). `..` segments, other absolute paths, Windows forms (`C:\`, `\\server`; a
 * backslash separates here, as clients on Windows mean it), NUL and over-long paths are a 400;
 * the executor then refuses symlinks that lead out.
 */
export function workspacePath(raw: string | undefined): string {
  if (!raw) throw new ApiError('invalid_argument', 'path: a file path is required after /files/');
  try {
    return normalizeWorkspacePath(raw, { backslash: 'separator' });
  } catch (err) {
    if (err instanceof WorkspaceFsError) throw new ApiError('invalid_argument', `path: ${err.message}`);
    throw err;
  }
}
