// Starts the platform exactly as `npm start` does by default: the same entry
// (tools/local/platform.ts through @swc-node/register, as tools/local/start.mjs runs it) with its
// default SANDBOX, pools, auth and Redis settings. Only DATA_DIR (a temp dir), the ports (free
// ones), EXECUTOR_API_KEYS (two tenants, so that tenancy can be attacked) and SKIP_INSTALL/
// SKIP_BUILD (CI installed the system packages; the target's build dependency built the bundles) are set.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@executor/launcher';
import type { LocalSection, PlatformProcess, Role, SecurityTarget } from './target';

export const ROOT = join(__dirname, '..', '..', '..', '..');

/** Variables of the test runner that `npm start` would not have (or that choose non-defaults). */
const DROP = /^(NODE_ENV|JEST_.*|SANDBOX.*|POOLS|LB_REPLICAS|PORT|REDIS_.*|DATA_DIR|EXECUTOR_.*|SKIP_.*)$/;

export interface LocalPlatform {
  target: SecurityTarget;
  banner: string;
  stop(): Promise<void>;
}

function readProc(pid: number, file: string): Buffer | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`);
  } catch {
    return undefined;
  }
}

function ppidOf(pid: number): number | undefined {
  const stat = readProc(pid, 'stat')?.toString();
  if (!stat) return undefined;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[1]);
}

/** Every descendant of `root` (host pids). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const pp = ppidOf(pid);
    if (pp === undefined) continue;
    const list = children.get(pp) ?? [];
    list.push(pid);
    children.set(pp, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop() as number;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

function parseEnv(buf: Buffer | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of (buf ?? Buffer.alloc(0)).toString().split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return env;
}

function roleOf(cmdline: string[]): Role | undefined {
  const joined = cmdline.join(' ');
  if (/dist\/apps\/executor\/main\.js/.test(joined)) return 'executor';
  if (/dist\/apps\/load-balancer\/main\.js/.test(joined)) return 'load-balancer';
  if (/dist\/apps\/persistence\/main\.js/.test(joined)) return 'persistence';
  if (/redis-server/.test(cmdline[0] ?? '')) return 'redis';
  return undefined;
}

export function platformProcesses(platformPid: number): PlatformProcess[] {
  const out: PlatformProcess[] = [];
  const self = readProc(platformPid, 'cmdline');
  if (self)
    out.push({
      role: 'platform',
      pid: platformPid,
      cmdline: self.toString().split('\0').filter(Boolean),
      env: parseEnv(readProc(platformPid, 'environ')),
    });
  for (const pid of descendants(platformPid)) {
    const cmdline = (readProc(pid, 'cmdline') ?? Buffer.alloc(0)).toString().split('\0').filter(Boolean);
    const role = roleOf(cmdline);
    if (!role) continue;
    out.push({ role, pid, cmdline, env: parseEnv(readProc(pid, 'environ')) });
  }
  return out;
}

export async function startLocalPlatform(): Promise<LocalPlatform> {
  const parent = mkdtempSync(join(tmpdir(), 'security-e2e-platform-'));
  // like the checkout that holds `.data`: traversable, so that DATA_DIR is created as npm start creates it
  chmodSync(parent, 0o755);
  const dataDir = join(parent, 'data');
  const port = await freePort();
  const redisPort = await freePort();
  const tenantKey = randomBytes(32).toString('base64url');
  const otherTenantKey = randomBytes(32).toString('base64url');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!DROP.test(k)) env[k] = v;
  Object.assign(env, {
    DATA_DIR: dataDir,
    PORT: String(port),
    REDIS_PORT: String(redisPort),
    EXECUTOR_API_KEYS: `acme:${tenantKey},globex:${otherTenantKey}`,
    SWC_NODE_PROJECT: join(ROOT, 'tsconfig.base.json'),
    // what npm start prepares first (system packages, bundles) is done already: by CI's
    // install step and by this target's build dependency
    SKIP_INSTALL: '1',
    SKIP_BUILD: '1',
  });
  // Preview only (never set by `npm test`): `SECURITY_E2E_NPM_START_ENV="SANDBOX=bwrap"` passes
  // npm start options, to see how the attacks fare before a default changes.
  for (const kv of (process.env['SECURITY_E2E_NPM_START_ENV'] ?? '').split(/\s+/).filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(ROOT, 'tools/local/platform.ts')],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 240_000);
    const check = (): void => {
      if (out.includes('The platform is running.')) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout?.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      resolve(out.includes('The platform is running.'));
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        for (const pid of [...descendants(child.pid as number), child.pid as number]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }, 60_000);
      await exited;
      clearTimeout(t);
    }
    if (!process.env['KEEP_SECURITY_E2E_DATA']) rmSync(parent, { recursive: true, force: true });
    else console.log(`security-e2e data kept in ${parent}`);
  };
  if (!ready) {
    await stop();
    throw new Error(`the platform did not start (tools/local/platform.ts):\n${out.slice(-4000)}`);
  }
  // wait until the banner is complete (it is written in one call, but be safe)
  const banner = out;
  const url = /API:\s+(http:\/\/\S+?)(,|\s)/.exec(banner)?.[1];
  if (!url) {
    await stop();
    throw new Error(`could not read the API URL from the banner:\n${banner}`);
  }
  const platformPid = child.pid as number;
  const processes = (): PlatformProcess[] => platformProcesses(platformPid);
  const lb = processes().find((p) => p.role === 'load-balancer');
  const persistence = processes().find((p) => p.role === 'persistence');
  const printedAdmin = /admin[^\n:]*key[^\n:]*:\s+(\S+)/i.exec(banner)?.[1];
  const envAdmin = (lb?.env['EXECUTOR_ADMIN_KEYS'] ?? '').split(',')[0]?.split(':').slice(1).join(':');
  const local: LocalSection = {
    rootDir: ROOT,
    dataDir,
    processes,
    ports: { api: port, redis: redisPort, persistence: Number(persistence?.env['PORT'] ?? 0) },
  };
  return {
    banner,
    stop,
    target: {
      baseUrl: url.replace(/\/+$/, ''),
      tenantKey,
      otherTenantKey,
      adminKey: printedAdmin || envAdmin || undefined,
      pythonTemplate: 'python',
      nodeTemplate: 'node',
      local,
    },
  };
}
