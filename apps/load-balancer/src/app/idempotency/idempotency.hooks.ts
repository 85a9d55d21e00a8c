import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { principalOf, type AuthedRequest } from '../auth/auth';
import type { LbConfig } from '../config/config';
import { IdempotencyService } from './idempotency.service';

type IdemRequest = AuthedRequest & { idempotency?: { key: string; fingerprint: string } };

/** Header telling a client that the answer is the stored one of an earlier request. */
export const REPLAYED_HEADER = 'idempotent-replayed';

/**
 * `Idempotency-Key` on every POST under /v1 (after auth and body parsing, before the handler):
 * the first request runs and its answer is stored; repeats get the stored answer. Requests
 * without a valid key are left to the route (401).
 */
export function registerIdempotency(fastify: unknown, config: LbConfig, service: IdempotencyService): void {
  const f = fastify as FastifyInstance;
  f.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const header = req.headers['idempotency-key'];
    if (req.method !== 'POST' || header === undefined || !req.url.startsWith('/v1/')) return;
    const p = principalOf(req as AuthedRequest, config);
    if (!p) return;
    const idemKey = Array.isArray(header) ? (header[0] ?? '') : header;
    const fingerprint = IdempotencyService.fingerprint(req.method, req.url, req.body);
    const r = await service.begin(`${p.role}:${p.name}`, idemKey, fingerprint);
    if (r.kind === 'owner') {
      (req as IdemRequest).idempotency = { key: r.key, fingerprint };
      return;
    }
    await reply
      .code(r.answer.status)
      .header('content-type', r.answer.contentType)
      .header(REPLAYED_HEADER, 'true')
      .send(r.answer.body);
    return reply;
  });
  f.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const idem = (req as IdemRequest).idempotency;
    if (!idem) return payload;
    (req as IdemRequest).idempotency = undefined;
    const body =
      typeof payload === 'string'
        ? payload
        : Buffer.isBuffer(payload)
          ? payload.toString('utf8')
          : payload === undefined || payload === null
            ? ''
            : undefined; // a stream: not stored, the key is freed
    await service.finish(
      idem.key,
      idem.fingerprint,
      body === undefined
        ? undefined
        : {
            status: reply.statusCode,
            contentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
            body,
          },
    );
    return payload;
  });
}
