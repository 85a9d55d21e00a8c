import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import Busboy from '@fastify/busboy';

/** One file part of a multipart body, to be consumed before the next is read. */
export interface FilePart {
  field: string;
  /** The part's filename, directories kept (E2B puts the destination path there). */
  filename: string;
  stream: Readable;
}

/**
 * The file parts of a multipart/form-data request, one at a time, streamed (busboy: a part is read
 * from the socket only as fast as its consumer takes it). Non-file fields are skipped.
 */
export async function* multipartFiles(
  body: Readable,
  headers: IncomingHttpHeaders,
): AsyncGenerator<FilePart> {
  const bb = new Busboy({ headers: headers as never, preservePath: true });
  const parts: FilePart[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let failure: Error | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  bb.on('file', (field, stream, filename) => {
    parts.push({ field, filename, stream });
    notify();
  });
  bb.on('finish', () => {
    done = true;
    notify();
  });
  bb.on('error', (err: Error) => {
    failure = err;
    notify();
  });
  body.pipe(bb);
  try {
    for (;;) {
      if (failure) throw failure;
      const next = parts.shift();
      if (next) {
        yield next;
        next.stream.resume(); // whatever the consumer left unread
        continue;
      }
      if (done) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    body.unpipe(bb);
    for (const p of parts) p.stream.resume();
  }
}
