import { ApiError } from './api-error';

/** Collects a body up to `limit` bytes (else 413). */
export function collectBody(payload: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const fail = (err: Error): void => {
      payload.removeListener('data', onData);
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        payload.removeListener('end', onEnd);
        fail(new ApiError('payload_too_large', `request body larger than ${limit} bytes`));
        payload.resume(); // drain the rest
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size));
    payload.on('data', onData);
    payload.once('end', onEnd);
    payload.once('error', fail);
  });
}
