import { Api, type Execution, type Session } from './api';
import { hostCanaryFiles, type HostCanaryFiles } from './canaries';
import { InvalidProbe, nodeProbe, nonce, parseProbe, pythonProbe, type ProbeResult } from './probe';
import type { LocalSection, SecurityTarget } from './target';

/** What every attack gets: clients per role, sessions, probes, and (locally) the host's view. */
export class AttackContext {
  readonly a: Api;
  readonly b: Api;
  readonly admin?: Api;
  /** Every probe's output, scanned for credentials at the end (invariant 6). */
  readonly outputs: string[] = [];
  private readonly sessions: Array<{ api: Api; id: string }> = [];
  private attackerSession?: Session;
  private readonly kept = new Set<string>();
  private canaries?: HostCanaryFiles;

  constructor(readonly target: SecurityTarget) {
    this.a = new Api(target.baseUrl, target.tenantKey, 'tenant A');
    this.b = new Api(target.baseUrl, target.otherTenantKey, 'tenant B');
    if (target.adminKey) this.admin = new Api(target.baseUrl, target.adminKey, 'admin');
  }

  get local(): LocalSection {
    if (!this.target.local)
      throw new InvalidProbe('this attack needs the local section (a platform on this machine)');
    return this.target.local;
  }

  /** Host canary files (created on first use, removed by `cleanup`). */
  get hostFiles(): HostCanaryFiles {
    if (!this.target.local) throw new InvalidProbe('host canaries need the local section');
    this.canaries ??= hostCanaryFiles();
    return this.canaries;
  }

  /** A new session (deleted at the end of the run). */
  async session(opts: { api?: Api; template?: string; env?: Record<string, string> } = {}): Promise<Session> {
    const api = opts.api ?? this.a;
    const s = await api.createSession({
      template: opts.template ?? this.target.pythonTemplate,
      ...(opts.env ? { env: opts.env } : {}),
    });
    this.sessions.push({ api, id: s.id });
    return s;
  }

  /** The shared python session of tenant A that most probes run in. */
  async attacker(): Promise<Session> {
    this.attackerSession ??= await this.session();
    return this.attackerSession;
  }

  /** A session of `api`'s tenant on the same pod as `s` (tries a few creations). */
  async samePod(s: Session, api: Api = this.a, template?: string): Promise<Session> {
    const extra: Session[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const n = await this.session({ api, template: template ?? s.template });
        if (n.pod === s.pod) return n;
        extra.push(n);
      }
    } finally {
      for (const e of extra) await this.drop(api, e.id);
    }
    throw new InvalidProbe(`no session landed on pod ${s.pod} in 8 tries`);
  }

  /** A session of `api`'s tenant on another pod than `s` (of the same template). */
  async otherPod(s: Session, api: Api = this.a): Promise<Session> {
    const extra: Session[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const n = await this.session({ api, template: s.template });
        if (n.pod !== s.pod) return n;
        extra.push(n);
      }
    } finally {
      for (const e of extra) await this.drop(api, e.id);
    }
    throw new InvalidProbe(`no session landed on a pod other than ${s.pod} in 8 tries`);
  }

  async drop(api: Api, id: string): Promise<void> {
    await api.deleteSession(id).catch(() => undefined);
    const i = this.sessions.findIndex((x) => x.id === id);
    if (i >= 0) this.sessions.splice(i, 1);
  }

  /** Runs a python probe in `s` and returns its `R`. */
  async py<R = Record<string, unknown>>(
    s: Session,
    body: string,
    params: unknown = {},
    extra: Record<string, unknown> = {},
    api: Api = this.a,
  ): Promise<ProbeResult<R>> {
    const n = nonce();
    const exec = await api.execute(s.id, pythonProbe(body, params, n), extra);
    this.record(exec);
    return { R: parseProbe<R>(exec, n), exec, nonce: n };
  }

  /** Runs a node probe in `s` (a node session) and returns its `R`. */
  async node<R = Record<string, unknown>>(
    s: Session,
    body: string,
    params: unknown = {},
    api: Api = this.a,
  ): Promise<ProbeResult<R>> {
    const n = nonce();
    const exec = await api.execute(s.id, nodeProbe(body, params, n));
    this.record(exec);
    return { R: parseProbe<R>(exec, n), exec, nonce: n };
  }

  record(exec: Execution): void {
    this.outputs.push(`${exec.stdout ?? ''}\n${exec.stderr ?? ''}`);
  }

  /** Puts host canaries back after an attack; returns what had changed. */
  restoreCanaries(): string[] {
    return this.canaries?.restore() ?? [];
  }

  /** Keeps `s` across attacks (a fixture several attacks share); deleted by `cleanup`. */
  keep(s: Session): Session {
    this.kept.add(s.id);
    return s;
  }

  /**
   * Deletes the sessions an attack opened (not the attacker session nor kept ones), so that no
   * tenant drifts into its session quota over the run.
   */
  async releaseAttackSessions(): Promise<void> {
    for (const { api, id } of [...this.sessions].reverse())
      if (id !== this.attackerSession?.id && !this.kept.has(id)) await this.drop(api, id);
  }

  async cleanup(): Promise<void> {
    for (const { api, id } of [...this.sessions].reverse())
      await api.deleteSession(id).catch(() => undefined);
    this.sessions.length = 0;
    this.canaries?.cleanup();
  }
}
