import { Inject, Injectable } from '@nestjs/common';
import { existsSync, realpathSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { JobError, type PackagesInstallPayload } from '@executor/queues';
import type { InstalledPackageRecord } from '@executor/session-state';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import type { Session } from '../sessions/session';
import { SandboxService } from '../sandbox/sandbox.service';

/** Where pip installs inside the workspace (on PYTHONPATH of every session process). */
export const PIP_TARGET = '.packages/python';

const PIP_SPEC =
  /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?(\s*(==|>=|<=|~=|!=|>|<)\s*[A-Za-z0-9.*+!_-]+)?$/;
const NPM_SPEC = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*(@[A-Za-z0-9.^~<>=*|+ -]+)?$/;

type Manager = 'pip' | 'npm';

/** pip/npm installs into the session's workspace, tracked as name + version. */
@Injectable()
export class PackagesService {
  private readonly npmCli: string;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    private readonly sandbox: SandboxService,
  ) {
    let cli = '/usr/lib/node_modules/npm/bin/npm-cli.js';
    try {
      if (existsSync('/usr/bin/npm')) cli = realpathSync('/usr/bin/npm');
    } catch {
      // keep the default
    }
    this.npmCli = cli;
  }

  async install(s: Session, p: PackagesInstallPayload): Promise<InstalledPackageRecord[]> {
    const manager = (p.manager ?? s.template.packageManager) as Manager | null;
    if (!manager)
      throw new JobError('invalid_argument', `template ${s.template.name} has no package manager`);
    if (s.template.packageManager !== manager) {
      throw new JobError(
        'invalid_argument',
        `template ${s.template.name} uses ${s.template.packageManager ?? 'no package manager'}, not ${manager}`,
      );
    }
    const re = manager === 'pip' ? PIP_SPEC : NPM_SPEC;
    const bad = p.packages.filter((x) => !re.test(x));
    if (bad.length)
      throw new JobError(
        'invalid_argument',
        `invalid ${manager} package spec(s): ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
      );
    const ws = this.sandbox.sandbox.workspace(s.slot);
    const argv =
      manager === 'pip'
        ? [
            '/usr/bin/python3',
            '-m',
            'pip',
            'install',
            '--no-input',
            '--upgrade',
            '--target',
            join(ws, PIP_TARGET),
            ...p.packages.map((x) => x.replace(/\s+/g, '')),
          ]
        : // cwd is the workspace (no --prefix: it would also move npm's global config, e.g. the image's cafile)
          [
            '/usr/bin/node',
            this.npmCli,
            'install',
            '--no-audit',
            '--no-fund',
            '--no-update-notifier',
            ...p.packages,
          ];
    const env: Record<string, string> = {};
    const roBinds: string[] = [];
    if (manager === 'pip') {
      if (this.cfg.PIP_INDEX_URL) env['PIP_INDEX_URL'] = this.cfg.PIP_INDEX_URL;
      if (this.cfg.PIP_FIND_LINKS) {
        env['PIP_FIND_LINKS'] = this.cfg.PIP_FIND_LINKS;
        roBinds.push(this.cfg.PIP_FIND_LINKS);
      }
      if (this.cfg.PIP_NO_INDEX) env['PIP_NO_INDEX'] = '1';
    } else if (this.cfg.NPM_REGISTRY) {
      env['npm_config_registry'] = this.cfg.NPM_REGISTRY;
    }
    const r = await s.runtime.command(argv, {
      timeoutMs: this.cfg.PACKAGE_INSTALL_TIMEOUT_MS,
      env: { ...s.env, ...env },
      network: this.cfg.PACKAGES_NETWORK || s.network,
      roBinds,
    });
    if (r.exitCode !== 0) {
      const tail = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
      throw new JobError(
        r.timedOut ? 'timeout' : 'invalid_argument',
        `${manager} install failed (exit ${r.exitCode}):\n${tail}`,
      );
    }
    const installed: InstalledPackageRecord[] = [];
    for (const spec of p.packages) {
      const name = manager === 'pip' ? pipName(spec) : npmName(spec);
      const version = manager === 'pip' ? await this.pipVersion(s, name) : await this.npmVersion(s, name);
      if (!version)
        throw new JobError('internal', `${manager} reported success but ${name} is not installed`);
      installed.push({ manager, name, version });
    }
    for (const pkg of installed) {
      s.packages = s.packages.filter((x) => !(x.manager === pkg.manager && norm(x.name) === norm(pkg.name)));
      s.packages.push(pkg);
    }
    s.stateDirty = true;
    s.invalidateImports = true;
    return installed;
  }

  private async pipVersion(s: Session, name: string): Promise<string | undefined> {
    const dir = join(s.slot.work, PIP_TARGET);
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const e of entries) {
      const m = /^(.+)-([^-]+)\.(dist-info|egg-info)$/.exec(e);
      if (m && norm(m[1] as string) === norm(name)) return m[2];
    }
    return undefined;
  }

  private async npmVersion(s: Session, name: string): Promise<string | undefined> {
    try {
      const pj = JSON.parse(
        await readFile(join(s.slot.work, 'node_modules', name, 'package.json'), 'utf8'),
      ) as { version?: string };
      return pj.version;
    } catch {
      return undefined;
    }
  }
}

function norm(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function pipName(spec: string): string {
  return spec.replace(/\s+/g, '').split(/[[=<>!~]/)[0] as string;
}

function npmName(spec: string): string {
  const at = spec.indexOf('@', 1);
  return at > 0 ? spec.slice(0, at) : spec;
}
