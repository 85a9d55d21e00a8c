import { Code, ConnectError } from '@connectrpc/connect';
import { mapError } from '../../http/exception.filter';

/** The sandbox is gone (killed, expired, paused, never existed): 502 on the sandbox plane. */
export class SandboxGoneError extends Error {
  constructor(
    readonly sandboxId: string,
    reason = 'not found',
  ) {
    super(`The sandbox ${sandboxId} was ${reason}`);
    this.name = 'SandboxGoneError';
  }
}

/** A sandbox-plane request without a valid token (or user): 401. */
export class SandboxAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxAuthError';
  }
}

/** HTTP status + `{code, message}` of an error on the REST parts of the sandbox plane (envd, interpreter). */
export function sandboxHttpError(
  err: unknown,
  fs = false,
): { status: number; body: { code: number; message: string }; internal: boolean } {
  if (err instanceof SandboxGoneError)
    return { status: 502, body: { code: 502, message: err.message }, internal: false };
  if (err instanceof SandboxAuthError)
    return { status: 401, body: { code: 401, message: err.message }, internal: false };
  const m = mapError(err);
  // envd answers 507 when the disk is full (the SDK's NotEnoughSpaceError): our workspace quota.
  const status = fs && m.body.error.code === 'payload_too_large' ? 507 : m.status;
  return { status, body: { code: status, message: m.body.error.message }, internal: m.internal };
}

const CONNECT_CODES: Record<string, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  not_found: Code.NotFound,
  conflict: Code.AlreadyExists,
  payload_too_large: Code.ResourceExhausted,
  rate_limited: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  timeout: Code.DeadlineExceeded,
  internal: Code.Internal,
};

/** Any error as a Connect error (envd RPC): the SDK maps the code to its error classes. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof SandboxGoneError) return new ConnectError(err.message, Code.Unavailable);
  if (err instanceof SandboxAuthError) return new ConnectError(err.message, Code.Unauthenticated);
  const m = mapError(err);
  return new ConnectError(m.body.error.message, CONNECT_CODES[m.body.error.code] ?? Code.Internal);
}
