import { Inject, Injectable } from '@nestjs/common';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { JobError, type PackagesInstallPayload } from '@executor/queues';
import type { InstalledPackageRecord } from '@executor/session-state';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import type { Session } from '../sessions/session';
import { SANDBOX_PATH } from '../sandbox/sandbox';
import { SandboxService } from '../sandbox/sandbox.service';
import { NPM_DEFAULT_REGISTRY, indexHosts } from './index-hosts';
import { startIndexProxy, type IndexProxy } from './index-proxy';

/** Where pip installs inside the workspace (on PYTHONPATH of every session process). */
export const PIP_TARGET = '.packages/python';
/** The installer's private staging directory and the proxy socket's directory, inside its sandbox. */
export const INSTALL_STAGE = '/opt/executor/install';
export const INSTALL_NET = '/opt/executor/net';
/** Longest unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

const PIP_SPEC =
  /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?(\s*(==|>=|<=|~=|!=|>|<)\s*[A-Za-z0-9.*+!_-]+)?$/;
const NPM_SPEC = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*(@[A-Za-z0-9.^~<>=*|+ -]+)?$/;

type Manager = 'pip' | 'npm';

/** One install's host directories (private to it: no session process sees them). */
interface InstallDirs {
  root: string;
  stage: string;
  net: string;
}

/**
 * pip/npm installs into the session's workspace, tracked as name + version.
 *
 * The installer never runs with anything the session wrote on its path or in its environment:
 * a clean env (not the session's PYTHONPATH/NODE_OPTIONS/npm_config_*), `python3 -I -m pip
 * --isolated` with no config files, npm with `--ignore-scripts` in a private staging project
 * (not the workspace's package.json/.npmrc) with a private HOME, TMPDIR and cache; only the
 * result is moved into the workspace. It runs in its own sandbox without network; its only way
 * out is the index proxy (allowlist of the configured index hosts) through a unix socket bound
 * into that sandbox alone. See the executor README ("Package installs").
 */
@Injectable()
export class PackagesService {
  private readonly npmCli: string;
  private readonly installsRoot: string;

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
    this.installsRoot = join(cfg.WORKSPACE_ROOT, '.installs');
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
    const dirs = this.makeDirs(s);
    let proxy: IndexProxy | undefined;
    try {
      const allow = indexHosts(this.cfg, manager);
      if (allow.length) {
        const socketPath = join(dirs.net, 'p');
        if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
          throw new JobError(
            'internal',
            `WORKSPACE_ROOT is too long for the installer's proxy socket (${socketPath}): use a shorter path`,
          );
        proxy = await startIndexProxy({ socketPath, allow, uid: s.slot.uid });
      }
      const installed =
        manager === 'pip'
          ? await this.pip(s, p.packages, dirs, !!proxy)
          : await this.npm(s, p.packages, dirs, !!proxy);
      for (const pkg of installed) {
        s.packages = s.packages.filter(
          (x) => !(x.manager === pkg.manager && norm(x.name) === norm(pkg.name)),
        );
        s.packages.push(pkg);
      }
      s.stateDirty = true;
      s.invalidateImports = true;
      return installed;
    } finally {
      await proxy?.close().catch(() => undefined);
      rmSync(dirs.root, { recursive: true, force: true });
    }
  }

  /** `<WORKSPACE_ROOT>/.installs/i-XXXXXX/{stage,n}`: stage owned by the session's uid, 0700. */
  private makeDirs(s: Session): InstallDirs {
    mkdirSync(this.installsRoot, { recursive: true, mode: 0o711 });
    const root = mkdtempSync(join(this.installsRoot, 'i-'));
    chmodSync(root, 0o711);
    const stage = join(root, 'stage');
    const net = join(root, 'n');
    mkdirSync(net, { mode: 0o711 });
    for (const d of [
      stage,
      join(stage, 'home'),
      join(stage, 'tmp'),
      join(stage, 'cache'),
      join(stage, 'project'),
    ]) {
      mkdirSync(d, { mode: 0o700 });
      if (s.slot.uid !== undefined) chownSync(d, s.slot.uid, s.slot.uid);
    }
    return { root, stage, net };
  }

  /** Paths as the installer sees them (inside its sandbox with bwrap; host paths with none). */
  private inside(dirs: InstallDirs): { stage: string; net: string } {
    return this.sandbox.sandbox.mode === 'bwrap'
      ? { stage: INSTALL_STAGE, net: INSTALL_NET }
      : { stage: dirs.stage, net: dirs.net };
  }

  private async run(
    s: Session,
    manager: Manager,
    installer: string[],
    dirs: InstallDirs,
    network: boolean,
    opts: { merge?: [string, string]; roBinds?: string[]; env?: Record<string, string> } = {},
  ): Promise<void> {
    const kernels = this.sandbox.sandbox.kernelsDir();
    const at = this.inside(dirs);
    const argv = [
      '/usr/bin/node',
      join(kernels, 'install_runner.js'),
      ...(network ? ['--socket', join(at.net, 'p')] : []),
      ...(opts.merge ? ['--merge', ...opts.merge] : []),
      '--',
      ...installer,
    ];
    const r = await s.runtime.command(argv, {
      timeoutMs: this.cfg.PACKAGE_INSTALL_TIMEOUT_MS,
      cleanEnv: true,
      env: {
        PATH: SANDBOX_PATH,
        HOME: join(at.stage, 'home'),
        TMPDIR: join(at.stage, 'tmp'),
        LANG: 'C.UTF-8',
        LC_ALL: 'C.UTF-8',
        ...opts.env,
      },
      // Its own network namespace: loopback only, the proxy socket is its only way out.
      network: false,
      addressSpaceLimit: false,
      cwd: join(at.stage, 'project'),
      roBinds: opts.roBinds,
      binds: [
        { src: dirs.stage, dest: INSTALL_STAGE, writable: true },
        ...(network ? [{ src: dirs.net, dest: INSTALL_NET }] : []),
      ],
    });
    if (r.exitCode !== 0) {
      const tail = (r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n');
      throw new JobError(
        r.timedOut ? 'timeout' : 'invalid_argument',
        `${manager} install failed (exit ${r.exitCode}):\n${tail}`,
      );
    }
  }

  private async pip(
    s: Session,
    packages: string[],
    dirs: InstallDirs,
    network: boolean,
  ): Promise<InstalledPackageRecord[]> {
    const at = this.inside(dirs);
    const ws = this.sandbox.sandbox.workspace(s.slot);
    const roBinds: string[] = [];
    const source: string[] = [];
    if (this.cfg.PIP_NO_INDEX) source.push('--no-index');
    else if (this.cfg.PIP_INDEX_URL) source.push('--index-url', this.cfg.PIP_INDEX_URL);
    if (this.cfg.PIP_FIND_LINKS) {
      source.push('--find-links', this.cfg.PIP_FIND_LINKS);
      roBinds.push(this.cfg.PIP_FIND_LINKS);
    }
    // -I: no PYTHONPATH, no user site, no cwd on sys.path (so nothing of the workspace is
    // importable); --isolated + PIP_CONFIG_FILE=/dev/null: no pip configuration from anywhere.
    const argv = [
      '/usr/bin/python3',
      '-I',
      '-m',
      'pip',
      '--isolated',
      'install',
      '--no-input',
      '--upgrade',
      '--no-cache-dir',
      '--disable-pip-version-check',
      '--no-warn-script-location',
      '--progress-bar',
      'off',
      '--target',
      join(ws, PIP_TARGET),
      '--report',
      join(at.stage, 'report.json'),
      ...source,
      ...packages.map((x) => x.replace(/\s+/g, '')),
    ];
    await this.run(s, 'pip', argv, dirs, network, { roBinds, env: { PIP_CONFIG_FILE: '/dev/null' } });
    let report: { install?: Array<{ metadata?: { name?: string; version?: string } }> };
    try {
      report = JSON.parse(readFileSync(join(dirs.stage, 'report.json'), 'utf8')) as typeof report;
    } catch (err) {
      throw new JobError('internal', `pip wrote no installation report: ${(err as Error).message}`);
    }
    const versions = new Map<string, string>();
    for (const item of report.install ?? []) {
      if (item.metadata?.name && item.metadata.version)
        versions.set(norm(item.metadata.name), item.metadata.version);
    }
    return packages.map((spec) => {
      const name = pipName(spec);
      const version = versions.get(norm(name));
      if (!version) throw new JobError('internal', `pip reported success but ${name} is not installed`);
      return { manager: 'pip' as const, name, version };
    });
  }

  private async npm(
    s: Session,
    packages: string[],
    dirs: InstallDirs,
    network: boolean,
  ): Promise<InstalledPackageRecord[]> {
    const at = this.inside(dirs);
    const ws = this.sandbox.sandbox.workspace(s.slot);
    // The staging project lists what the session installed before (npm would prune the rest) and
    // is the only project npm sees: the workspace's package.json and .npmrc are never read.
    const dependencies: Record<string, string> = {};
    for (const pkg of s.packages) if (pkg.manager === 'npm') dependencies[pkg.name] = pkg.version;
    const pj = join(dirs.stage, 'project', 'package.json');
    writeFileSync(
      pj,
      `${JSON.stringify({ name: 'session-packages', private: true, dependencies }, null, 2)}\n`,
    );
    if (s.slot.uid !== undefined) chownSync(pj, s.slot.uid, s.slot.uid);
    const argv = [
      '/usr/bin/node',
      this.npmCli,
      'install',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-update-notifier',
      `--registry=${this.cfg.NPM_REGISTRY || NPM_DEFAULT_REGISTRY}`,
      `--userconfig=${join(at.stage, 'home', '.npmrc')}`,
      `--cache=${join(at.stage, 'cache')}`,
      ...(network ? [] : ['--offline']),
      ...packages,
    ];
    await this.run(s, 'npm', argv, dirs, network, {
      merge: [join(at.stage, 'project', 'node_modules'), join(ws, 'node_modules')],
    });
    let lock: { packages?: Record<string, { version?: string }> };
    try {
      lock = JSON.parse(
        readFileSync(join(dirs.stage, 'project', 'package-lock.json'), 'utf8'),
      ) as typeof lock;
    } catch (err) {
      throw new JobError('internal', `npm wrote no package-lock.json: ${(err as Error).message}`);
    }
    return packages.map((spec) => {
      const name = npmName(spec);
      const version = lock.packages?.[`node_modules/${name}`]?.version;
      if (!version) throw new JobError('internal', `npm reported success but ${name} is not installed`);
      return { manager: 'npm' as const, name, version };
    });
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
