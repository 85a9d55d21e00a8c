import './lib/polyfill.js';

export { ExecutorClient, Pools, type ClientOptions, type CreateSessionOptions } from './lib/client.js';
export {
  Session,
  SessionFiles,
  SessionPackages,
  SessionCommands,
  SessionContexts,
  DEFAULT_EXECUTION_TIMEOUT_MS,
  type ExecuteOptions,
  type RunCommandOptions,
  type CommandSignal,
  type InstallOptions,
  type FileData,
} from './lib/session.js';
export { isRetryable, type RequestOptions, type RetryEvent, type HttpMethod } from './lib/http.js';
export {
  ExecutorError,
  InvalidArgumentError,
  UnauthenticatedError,
  NotFoundError,
  ConflictError,
  PayloadTooLargeError,
  RateLimitedError,
  UnavailableError,
  TimeoutError,
  InternalError,
  NetworkError,
  AbortError,
  errorFromResponse,
  parseRetryAfter,
  type ApiErrorCode,
  type ErrorCode,
  type ExecutorErrorDetails,
} from './lib/errors.js';
export type * from './lib/types.js';
export { SDK_VERSION } from './lib/version.js';
