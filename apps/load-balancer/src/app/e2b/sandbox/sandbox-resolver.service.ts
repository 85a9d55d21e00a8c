import { Injectable } from '@nestjs/common';
import { ApiError } from '../../http/api-error';
import { SessionCaller, type LiveSession } from '../../sessions/session-caller.service';
import { SessionStates } from '../../state/session-store';
import { SandboxHeaders } from '../e2b-protocol';
import { tokenMatches } from './sandbox-auth';
import { SandboxAuthError, SandboxGoneError } from './sandbox-errors';

/** Which credential a sandbox-plane request must carry. */
export type SandboxCredential =
  /** envd: `X-Access-Token` = the sandbox's envdAccessToken (or a valid signed URL, checked by the caller). */
  | 'envd'
  /** code interpreter: `X-Access-Token`, or `E2B-Traffic-Access-Token` = its trafficAccessToken. */
  | 'interpreter'
  /** none (envd's /health). */
  | 'none';

type HeaderBag = Record<string, string | string[] | undefined> | Headers;

function header(h: HeaderBag, name: string): string | undefined {
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const v = (h as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Finds the session a sandbox-plane request is for, from `E2b-Sandbox-Id` alone (no API key on this
 * plane: the per-sandbox token is the credential, so a tenant reaches only sandboxes whose token it
 * got from its own control plane). Gone, expired or paused → SandboxGoneError (502); a wrong or
 * missing token → SandboxAuthError (401). Use moves the expiry only of sessions with an idle TTL.
 */
@Injectable()
export class SandboxResolver {
  constructor(private readonly caller: SessionCaller) {}

  sandboxId(h: HeaderBag): string {
    return header(h, SandboxHeaders.id) ?? '';
  }

  async resolve(
    h: HeaderBag,
    credential: SandboxCredential,
    alt?: (token: string | undefined) => boolean,
  ): Promise<LiveSession> {
    const id = this.sandboxId(h);
    let loaded: LiveSession;
    try {
      loaded = await this.caller.load('*', id);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'not_found') throw new SandboxGoneError(id);
      throw err;
    }
    const s = loaded.session;
    if (credential !== 'none') {
      const access = header(h, SandboxHeaders.accessToken);
      const traffic = header(h, SandboxHeaders.trafficToken);
      const ok =
        tokenMatches(access, s.accessToken) ||
        (credential === 'interpreter' && tokenMatches(traffic, s.trafficToken)) ||
        (access === undefined && alt?.(s.accessToken) === true);
      if (!ok)
        throw new SandboxAuthError(access || traffic ? 'invalid access token' : 'missing access token');
    }
    if (s.state && s.state !== SessionStates.active) throw new SandboxGoneError(id, s.state);
    return loaded;
  }
}
