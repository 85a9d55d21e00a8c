import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * The front-proxy ("request header") authentication of an aggregated API server, as the generic
 * apiserver does it (`k8s.io/apiserver/pkg/authentication/request/headerrequest`): the kube-apiserver's
 * aggregator proxies each request over mutual TLS with its `--proxy-client-cert-file`, signed by the
 * `--requestheader-client-ca-file` CA, and names the user in headers. A request is authenticated only
 * when the TLS client certificate verified against that CA, carries the clientAuth usage, and (when the
 * list is not empty) its common name is one of `--requestheader-allowed-names`; only then are the
 * headers believed. Everything else is refused: this server accepts no other credentials (no bearer
 * tokens, no other client certificates), so nothing but the aggregator can call it.
 */

/** `kube-system/extension-apiserver-authentication`, the ConfigMap the kube-apiserver publishes. */
export const AUTH_CONFIGMAP_NAMESPACE = 'kube-system';
export const AUTH_CONFIGMAP_NAME = 'extension-apiserver-authentication';

const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

export interface RequestHeaderConfig {
  /** PEM bundle of the request-header client CA (`requestheader-client-ca-file`). */
  clientCA: string;
  /** Common names allowed for the proxy's client certificate; empty = any certificate of the CA. */
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

/** The identity of an authenticated request (what a SubjectAccessReview is asked about). */
export interface UserInfo {
  name: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export type AuthResult = { ok: true; user: UserInfo } | { ok: false; reason: string };

export class RequestHeaderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestHeaderConfigError';
  }
}

function jsonList(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new RequestHeaderConfigError(`${AUTH_CONFIGMAP_NAME}: ${key} is not JSON`);
  }
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) {
    throw new RequestHeaderConfigError(`${AUTH_CONFIGMAP_NAME}: ${key} is not a list of strings`);
  }
  return parsed;
}

/**
 * Reads the request-header settings from the ConfigMap's data (lists are JSON arrays there). Without a
 * `requestheader-client-ca-file` the API server has no aggregation layer configured: an error.
 */
export function requestHeaderConfigFrom(data: Record<string, string> | undefined): RequestHeaderConfig {
  const d = data ?? {};
  const clientCA = d['requestheader-client-ca-file'];
  if (!clientCA || !clientCA.includes('BEGIN CERTIFICATE')) {
    throw new RequestHeaderConfigError(
      `${AUTH_CONFIGMAP_NAMESPACE}/${AUTH_CONFIGMAP_NAME} has no requestheader-client-ca-file: the kube-apiserver runs without --requestheader-client-ca-file (no aggregation layer)`,
    );
  }
  const cfg: RequestHeaderConfig = {
    clientCA,
    allowedNames: jsonList(d, 'requestheader-allowed-names'),
    usernameHeaders: jsonList(d, 'requestheader-username-headers').map((h) => h.toLowerCase()),
    groupHeaders: jsonList(d, 'requestheader-group-headers').map((h) => h.toLowerCase()),
    extraHeaderPrefixes: jsonList(d, 'requestheader-extra-headers-prefix').map((h) => h.toLowerCase()),
  };
  if (cfg.usernameHeaders.length === 0) {
    throw new RequestHeaderConfigError(`${AUTH_CONFIGMAP_NAME}: requestheader-username-headers is empty`);
  }
  return cfg;
}

/** Authenticates one request on a TLS server that asked for (but did not require) a client certificate. */
export function authenticateRequest(req: IncomingMessage, cfg: RequestHeaderConfig): AuthResult {
  const socket = req.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  if (!peer || Object.keys(peer).length === 0) return { ok: false, reason: 'no client certificate' };
  if (!socket.authorized) {
    return {
      ok: false,
      reason: `client certificate not signed by the request-header CA (${String(socket.authorizationError)})`,
    };
  }
  const eku = peer.ext_key_usage;
  if (eku && !eku.includes(CLIENT_AUTH_EKU)) {
    return { ok: false, reason: 'client certificate is not for client authentication' };
  }
  const cn = peer.subject?.CN;
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  if (cfg.allowedNames.length > 0 && !cfg.allowedNames.includes(commonName ?? '')) {
    return { ok: false, reason: `client certificate CN "${commonName ?? ''}" is not an allowed name` };
  }
  const headers = req.headersDistinct;
  const name = cfg.usernameHeaders.map((h) => headers[h]?.[0]?.trim() ?? '').find((v) => v.length > 0);
  if (!name) return { ok: false, reason: 'no user in the request headers' };
  const groups = cfg.groupHeaders.flatMap((h) => headers[h] ?? []);
  const extra: Record<string, string[]> = {};
  for (const [header, values] of Object.entries(headers)) {
    const prefix = cfg.extraHeaderPrefixes.find((p) => header.startsWith(p));
    if (!prefix || !values) continue;
    // Keys are URL-escaped by the aggregator (headerrequest.unescapeExtraKey); header names are lowercase.
    let key = header.slice(prefix.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      /* keep the raw key */
    }
    extra[key] = [...(extra[key] ?? []), ...values];
  }
  return { ok: true, user: { name, groups, extra } };
}
