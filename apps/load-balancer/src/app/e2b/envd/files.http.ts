import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FilesService } from '../../files/files.service';
import { ApiError } from '../../http/api-error';
import type { LiveSession } from '../../sessions/session-caller.service';
import { sandboxUser, signatureValid } from '../sandbox/sandbox-auth';
import { SandboxAuthError } from '../sandbox/sandbox-errors';
import type { SandboxResolver } from '../sandbox/sandbox-resolver.service';
import { multipartFiles } from './multipart';

export interface FilesQuery {
  path?: string;
  username?: string;
  signature?: string;
  signature_expiration?: string;
}

/** An entry of envd's upload answer. */
interface WriteInfo {
  name: string;
  path: string;
  type: 'file';
}

async function sandboxFor(
  resolver: SandboxResolver,
  req: FastifyRequest,
  q: FilesQuery,
  op: 'read' | 'write',
): Promise<LiveSession> {
  if (!sandboxUser(q.username, req.headers.authorization))
    throw new SandboxAuthError(`unknown user "${q.username}": the sandbox has the user "user"`);
  // Signed URLs (uploadUrl/downloadUrl) stand in for X-Access-Token.
  return resolver.resolve(req.headers, 'envd', (token) => signatureValid(q, op, token));
}

/** envd `GET /files?path=`: the file's bytes, streamed as the pod reads them. */
export async function downloadFile(
  resolver: SandboxResolver,
  files: FilesService,
  req: FastifyRequest<{ Querystring: FilesQuery }>,
  reply: FastifyReply,
): Promise<void> {
  const q = req.query;
  const sb = await sandboxFor(resolver, req, q, 'read');
  if (!q.path) throw new ApiError('invalid_argument', 'path: the path query parameter is required');
  const file = await files.read(sb, q.path);
  void reply.status(200).header('content-type', 'application/octet-stream');
  if (file.empty) await reply.header('content-length', 0).send(Buffer.alloc(0));
  else await reply.send(Readable.from(file.body, { objectMode: false }));
}

/**
 * envd `POST /files`: multipart (one or several `file` parts, each part's filename its destination
 * unless `path` is given) or a raw octet-stream body (`path` required, gzip accepted). Each file
 * streams to the pod as it arrives. Answers `[{name, path, type: "file"}]`.
 */
export async function uploadFiles(
  resolver: SandboxResolver,
  files: FilesService,
  req: FastifyRequest<{ Querystring: FilesQuery }>,
): Promise<WriteInfo[]> {
  const q = req.query;
  const sb = await sandboxFor(resolver, req, q, 'write');
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  const written: WriteInfo[] = [];
  const record = (e: { name: string; path: string }): void => {
    written.push({ name: e.name, path: e.path, type: 'file' });
  };
  if (type.startsWith('multipart/')) {
    const seen = new Set<string>();
    for await (const part of multipartFiles(req.raw, req.headers)) {
      if (part.field !== 'file') continue;
      const dest = q.path ?? part.filename;
      if (!dest)
        throw new ApiError('invalid_argument', 'file part without a path: give ?path= or a filename');
      if (seen.has(dest))
        throw new ApiError(
          'invalid_argument',
          `you cannot upload multiple files to the same path '${dest}' in one request`,
        );
      seen.add(dest);
      record(await files.write(sb, dest, part.stream));
    }
  } else if (type.startsWith('application/octet-stream') || type === '') {
    if (!q.path)
      throw new ApiError('invalid_argument', 'path query parameter is required for raw body upload');
    const gzip = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
    record(await files.write(sb, q.path, gzip ? req.raw.pipe(createGunzip()) : req.raw));
  } else {
    throw new ApiError(
      'invalid_argument',
      `unsupported content type: ${type}, expected multipart/form-data or application/octet-stream`,
    );
  }
  if (!written.length) throw new ApiError('invalid_argument', 'no file in the request');
  return written;
}
