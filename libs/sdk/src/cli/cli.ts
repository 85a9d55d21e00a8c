import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ExecutorClient } from '../lib/client.js';
import {
  AbortError,
  ExecutorError,
  NetworkError,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
  RateLimitedError,
} from '../lib/errors.js';
import type { Session } from '../lib/session.js';
import type { Execution, PoolInfo, SessionInfo } from '../lib/types.js';
import { SDK_VERSION } from '../lib/version.js';
import { UsageError, allowOnly, bool, int, keyValues, parseArgs, str, type ParsedArgs } from './args.js';
import { resolveConfig } from './config.js';
import { humanSize, spinner, table, type Writable } from './output.js';
import { templateForFile } from './templates.js';

/** Exit code of a usage error. */
export const EXIT_USAGE = 2;
/** Exit code of an API (or network) error. */
export const EXIT_API = 1;
/** Exit code when the code ran past its timeout (as `timeout(1)`). */
export const EXIT_TIMED_OUT = 124;
/** Exit code after Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: AsyncIterable<Uint8Array | string>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborts the running command (Ctrl-C). */
  signal?: AbortSignal;
}

export const USAGE = `executor ${SDK_VERSION}: command line client of the executor platform

Usage:
  executor run <file|-> [--template T] [--timeout ms] [--env K=V]... [--ttl s] [--region R] [--keep]
  executor exec <session> <code|->  [--timeout ms] [--language L] [--env K=V]...
  executor session create [<template>] [--template T] [--ttl s] [--region R] [--no-persist] [--env K=V]... [--meta K=V]...
  executor session list
  executor session get <id>
  executor session rm <id>...
  executor session extend <id> --ttl s
  executor session persist <id>
  executor cp <local|-> <session>:<path>        upload (binary-safe)
  executor cp <session>:<path> <local|->        download (binary-safe)
  executor ls <session>                          files of the session's workspace
  executor install <session> <package>... [--manager pip|npm]
  executor pools [<name>]                        pools with health and circuit-breaker state

Options (every command):
  --url <url>      API URL (env EXECUTOR_URL, config "url"; default http://127.0.0.1:8080)
  --key <key>      API key (env EXECUTOR_API_KEY, config "apiKey")
  --config <file>  config file (env EXECUTOR_CONFIG; default ~/.config/executor/config.json)
  --json           machine-readable output on stdout (errors as JSON on stderr)
  -h, --help       this help;  -v, --version  the version

Exit codes: run/exec exit with the code's exit code (124 if it timed out); 1 API error; 2 usage error; 130 interrupted.
`;

interface Ctx {
  args: ParsedArgs;
  io: CliIo;
  json: boolean;
  client: () => ExecutorClient;
  url: () => string;
}

type Command = (ctx: Ctx, rest: string[]) => Promise<number>;

/** Runs the CLI; resolves with the process exit code (never throws). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json');
  let url = '';
  try {
    const args = parseArgs(argv);
    json = bool(args, 'json');
    if (bool(args, 'version')) {
      io.stdout.write(json ? JSON.stringify({ version: SDK_VERSION }) + '\n' : `${SDK_VERSION}\n`);
      return 0;
    }
    const [name, ...rest] = args.positionals;
    if (bool(args, 'help') || !name || name === 'help') {
      io.stdout.write(USAGE);
      return name || bool(args, 'help') ? 0 : EXIT_USAGE;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command "${name}"`);
    let client: ExecutorClient | undefined;
    const ctx: Ctx = {
      args,
      io,
      json,
      client: () => {
        if (client) return client;
        const config = resolveConfig(
          { url: str(args, 'url'), key: str(args, 'key'), config: str(args, 'config') },
          io.env,
        );
        url = config.url;
        client = new ExecutorClient({ baseUrl: config.url, apiKey: config.apiKey });
        return client;
      },
      url: () => url,
    };
    return await command(ctx, rest);
  } catch (err) {
    return reportError(err, io, json, url);
  }
}

function reportError(err: unknown, io: CliIo, json: boolean, url: string): number {
  const exit =
    err instanceof UsageError ? EXIT_USAGE : err instanceof AbortError ? EXIT_INTERRUPTED : EXIT_API;
  if (json) {
    const e = err as Partial<ExecutorError> & Error;
    const code = err instanceof UsageError ? 'usage' : err instanceof ExecutorError ? err.code : 'error';
    io.stderr.write(JSON.stringify({ error: { code, status: e.status ?? 0, message: e.message } }) + '\n');
    return exit;
  }
  io.stderr.write(`executor: ${describeError(err, url)}\n`);
  if (err instanceof UsageError) io.stderr.write('Run "executor --help" for usage.\n');
  return exit;
}

/** One clear line per error kind. */
export function describeError(err: unknown, url: string): string {
  if (err instanceof UsageError) return err.message;
  if (err instanceof AbortError) return 'interrupted';
  if (err instanceof NetworkError) {
    return `cannot reach the API at ${url || 'the configured URL'}: ${err.message}. Is the platform running (npm start)? Set --url or EXECUTOR_URL.`;
  }
  if (err instanceof TimeoutError && err.status === 0) return `no answer from ${url}: ${err.message}`;
  if (err instanceof UnauthenticatedError)
    return `authentication failed (401): ${err.message}. Check --key / EXECUTOR_API_KEY.`;
  if (err instanceof UnavailableError || err instanceof RateLimitedError) {
    const after = err.retryAfterSeconds === undefined ? '' : ` (retry after ${err.retryAfterSeconds}s)`;
    return `${err.code} (${err.status}): ${err.message}${after}`;
  }
  if (err instanceof ExecutorError)
    return `${err.code}${err.status ? ` (${err.status})` : ''}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

// ---------------------------------------------------------------------------------------------
// helpers

async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
  return Buffer.concat(chunks);
}

async function readLocal(ctx: Ctx, file: string): Promise<Buffer> {
  if (file === '-') return readAll(ctx.io.stdin);
  const path = resolve(ctx.io.cwd, file);
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`,
    );
  }
}

function printJson(ctx: Ctx, value: unknown): void {
  ctx.io.stdout.write(JSON.stringify(value) + '\n');
}

function need(rest: string[], count: number, what: string): void {
  if (rest.length < count) throw new UsageError(`missing ${what}`);
}

/** Exit code of a finished execution for run/exec: the code's own, 124 on timeout. */
export function exitCodeOf(result: Execution): number {
  if (result.timedOut) return EXIT_TIMED_OUT;
  const code = result.exitCode;
  return Number.isInteger(code) && code >= 0 && code <= 255 ? code : 1;
}

async function runAndPrint(
  ctx: Ctx,
  session: Session,
  code: string,
  label: string,
  extra: Record<string, unknown>,
): Promise<number> {
  const args = ctx.args;
  const spin = spinner(ctx.io.stderr, label);
  let result: Execution;
  try {
    result = await session.execute(code, {
      timeoutMs: int(args, 'timeout'),
      language: str(args, 'language'),
      env: keyValues(args, 'env'),
      signal: ctx.io.signal,
    });
  } finally {
    spin.stop();
  }
  if (ctx.json) {
    printJson(ctx, { ...extra, ...result });
  } else {
    ctx.io.stdout.write(result.stdout);
    ctx.io.stderr.write(result.stderr);
    if (result.timedOut)
      ctx.io.stderr.write(
        `executor: the code timed out (after ${Math.round(result.durationMs)} ms) and was stopped\n`,
      );
    if (result.truncated) ctx.io.stderr.write('executor: output was truncated at 1 MiB\n');
  }
  return exitCodeOf(result);
}

/** `<session>:<path>` → parts; undefined for a local path. */
export function parseRemote(arg: string): { session: string; path: string } | undefined {
  const colon = arg.indexOf(':');
  if (colon <= 0) return undefined;
  const session = arg.slice(0, colon);
  if (session.includes('/') || session.includes('\\') || session === '.' || session === '..')
    return undefined;
  return { session, path: arg.slice(colon + 1) };
}

// ---------------------------------------------------------------------------------------------
// commands

const run: Command = async (ctx, rest) => {
  allowOnly(ctx.args, 'run', ['template', 'timeout', 'env', 'ttl', 'region', 'keep', 'language']);
  need(rest, 1, 'file to run (or - for stdin)');
  if (rest.length > 1) throw new UsageError('run takes one file');
  const file = rest[0] as string;
  const template = str(ctx.args, 'template') ?? (file === '-' ? undefined : templateForFile(file));
  if (!template) {
    throw new UsageError(
      file === '-'
        ? 'reading from stdin needs --template'
        : `cannot infer the template of "${file}" from its extension: pass --template`,
    );
  }
  const code = (await readLocal(ctx, file)).toString('utf8');
  const client = ctx.client();
  const session = await client.createSession({
    template,
    persist: false,
    ttlSeconds: int(ctx.args, 'ttl') ?? 600,
    region: str(ctx.args, 'region'),
    signal: ctx.io.signal,
  });
  try {
    return await runAndPrint(
      ctx,
      session,
      code,
      `running ${file === '-' ? 'stdin' : basename(file)} (${template}) on ${session.info.pod}`,
      { session: session.id },
    );
  } finally {
    if (bool(ctx.args, 'keep')) {
      if (!ctx.json) ctx.io.stderr.write(`executor: session ${session.id} kept\n`);
    } else {
      await session
        .close()
        .catch((err: Error) =>
          ctx.io.stderr.write(`executor: closing session ${session.id} failed: ${err.message}\n`),
        );
    }
  }
};

const exec: Command = async (ctx, rest) => {
  allowOnly(ctx.args, 'exec', ['timeout', 'env', 'language']);
  need(rest, 2, 'session id and code (or - for stdin)');
  const [id, ...codeParts] = rest as [string, ...string[]];
  const code =
    codeParts.length === 1 && codeParts[0] === '-'
      ? (await readAll(ctx.io.stdin)).toString('utf8')
      : codeParts.join(' ');
  const session = await ctx.client().getSession(id, { signal: ctx.io.signal });
  return runAndPrint(ctx, session, code, `running on ${session.info.pod}`, {});
};

function sessionRow(s: SessionInfo): string[] {
  return [s.id, s.template, s.pod, s.status, s.persist ? 'yes' : 'no', s.expiresAt];
}

const session: Command = async (ctx, rest) => {
  const [sub, ...args] = rest;
  const client = (): ExecutorClient => ctx.client();
  const signal = ctx.io.signal;
  switch (sub) {
    case 'create': {
      allowOnly(ctx.args, 'session create', [
        'template',
        'ttl',
        'region',
        'persist',
        'no-persist',
        'env',
        'meta',
      ]);
      const template = str(ctx.args, 'template') ?? args[0];
      if (!template) throw new UsageError('session create needs a template (executor session create python)');
      const s = await client().createSession({
        template,
        ttlSeconds: int(ctx.args, 'ttl'),
        region: str(ctx.args, 'region'),
        persist: bool(ctx.args, 'no-persist') ? false : bool(ctx.args, 'persist') ? true : undefined,
        env: keyValues(ctx.args, 'env'),
        metadata: keyValues(ctx.args, 'meta'),
        signal,
      });
      if (ctx.json) printJson(ctx, s.info);
      else ctx.io.stdout.write(`${s.id}\n`);
      return 0;
    }
    case 'list':
    case 'ls': {
      allowOnly(ctx.args, 'session list', []);
      const items = (await client().listSessions({ signal })).map((s) => s.info);
      if (ctx.json) printJson(ctx, { items });
      else
        ctx.io.stdout.write(
          table(['ID', 'TEMPLATE', 'POD', 'STATUS', 'PERSIST', 'EXPIRES'], items.map(sessionRow)),
        );
      return 0;
    }
    case 'get':
    case 'info': {
      allowOnly(ctx.args, 'session get', []);
      need(args, 1, 'session id');
      const s = await client().getSession(args[0] as string, { signal });
      ctx.io.stdout.write(ctx.json ? JSON.stringify(s.info) + '\n' : JSON.stringify(s.info, null, 2) + '\n');
      return 0;
    }
    case 'rm':
    case 'delete': {
      allowOnly(ctx.args, 'session rm', []);
      need(args, 1, 'session id');
      for (const id of args) {
        await client().deleteSession(id, { signal });
        if (!ctx.json) ctx.io.stdout.write(`removed ${id}\n`);
      }
      if (ctx.json) printJson(ctx, { removed: args });
      return 0;
    }
    case 'extend': {
      allowOnly(ctx.args, 'session extend', ['ttl']);
      need(args, 1, 'session id');
      const ttl = int(ctx.args, 'ttl') ?? (args[1] !== undefined ? Number(args[1]) : undefined);
      if (!ttl || !Number.isInteger(ttl) || ttl < 1)
        throw new UsageError('session extend needs --ttl <seconds>');
      const s = await client().getSession(args[0] as string, { signal });
      const info = await s.extend(ttl, { signal });
      if (ctx.json) printJson(ctx, info);
      else ctx.io.stdout.write(`${info.id} expires at ${info.expiresAt}\n`);
      return 0;
    }
    case 'persist': {
      allowOnly(ctx.args, 'session persist', []);
      need(args, 1, 'session id');
      const s = await client().getSession(args[0] as string, { signal });
      const res = await s.persist({ signal });
      if (ctx.json) printJson(ctx, res);
      else ctx.io.stdout.write(`snapshot v${res.version} (${humanSize(res.bytes)}) at ${res.at}\n`);
      return 0;
    }
    default:
      throw new UsageError(
        sub
          ? `unknown session command "${sub}" (create, list, get, rm, extend, persist)`
          : 'session needs a command: create, list, get, rm, extend, persist',
      );
  }
};

const cp: Command = async (ctx, rest) => {
  allowOnly(ctx.args, 'cp', []);
  if (rest.length !== 2)
    throw new UsageError('cp needs a source and a destination, one of them <session>:<path>');
  const [src, dst] = rest as [string, string];
  const from = parseRemote(src);
  const to = parseRemote(dst);
  if (from && to) throw new UsageError('cp between two sessions is not supported: download, then upload');
  if (!from && !to) throw new UsageError('cp needs one side to be <session>:<path>');
  const signal = ctx.io.signal;
  if (to) {
    const data = await readLocal(ctx, src);
    let path = to.path;
    if (path === '' || path.endsWith('/')) {
      if (src === '-') throw new UsageError('uploading stdin needs a file name: <session>:<path>');
      path += basename(src);
    }
    const s = await ctx.client().getSession(to.session, { signal });
    await s.files.write(path, data, { signal });
    if (ctx.json) printJson(ctx, { session: s.id, path, bytes: data.length });
    else ctx.io.stderr.write(`uploaded ${humanSize(data.length)} to ${s.id}:${path}\n`);
    return 0;
  }
  const remote = from as { session: string; path: string };
  if (!remote.path) throw new UsageError('cp needs a file path after "<session>:"');
  const s = await ctx.client().getSession(remote.session, { signal });
  const data = await s.files.read(remote.path, { signal });
  if (dst === '-') {
    ctx.io.stdout.write(data);
    return 0;
  }
  let target = resolve(ctx.io.cwd, dst);
  const st = await stat(target).catch(() => undefined);
  if (st?.isDirectory()) target = join(target, basename(remote.path));
  await writeFile(target, data);
  if (ctx.json) printJson(ctx, { session: s.id, path: remote.path, file: target, bytes: data.length });
  else ctx.io.stderr.write(`downloaded ${humanSize(data.length)} to ${target}\n`);
  return 0;
};

const ls: Command = async (ctx, rest) => {
  allowOnly(ctx.args, 'ls', []);
  need(rest, 1, 'session id');
  const s = await ctx.client().getSession(rest[0] as string, { signal: ctx.io.signal });
  const items = await s.files.list({ signal: ctx.io.signal });
  if (ctx.json) printJson(ctx, { items });
  else
    ctx.io.stdout.write(
      table(
        ['PATH', 'SIZE', 'MODIFIED'],
        items.map((f) => [f.path, humanSize(f.size), f.modifiedAt]),
      ),
    );
  return 0;
};

const install: Command = async (ctx, rest) => {
  allowOnly(ctx.args, 'install', ['manager']);
  need(rest, 2, 'session id and at least one package');
  const manager = str(ctx.args, 'manager');
  if (manager !== undefined && manager !== 'pip' && manager !== 'npm')
    throw new UsageError('--manager must be pip or npm');
  const [id, ...packages] = rest as [string, ...string[]];
  const s = await ctx.client().getSession(id, { signal: ctx.io.signal });
  const spin = spinner(ctx.io.stderr, `installing ${packages.join(' ')}`);
  try {
    const installed = await s.packages.install(packages, { manager, signal: ctx.io.signal });
    if (ctx.json) printJson(ctx, { installed });
    else
      ctx.io.stdout.write(
        table(
          ['NAME', 'VERSION'],
          installed.map((p) => [p.name, p.version]),
        ),
      );
  } finally {
    spin.stop();
  }
  return 0;
};

function poolRow(p: PoolInfo): Array<string | number> {
  return [
    p.name,
    p.template,
    p.region || '-',
    p.weight,
    p.healthy ? 'yes' : 'NO',
    p.circuit,
    p.pods,
    p.sessions,
    p.connections,
    p.queueDepth,
  ];
}

const pools: Command = async (ctx, rest) => {
  allowOnly(ctx.args, 'pools', []);
  const client = ctx.client();
  if (rest[0]) {
    const pool = await client.pools.get(rest[0], { signal: ctx.io.signal });
    ctx.io.stdout.write(ctx.json ? JSON.stringify(pool) + '\n' : JSON.stringify(pool, null, 2) + '\n');
    return 0;
  }
  const items = await client.pools.list({ signal: ctx.io.signal });
  if (ctx.json) printJson(ctx, { items });
  else {
    ctx.io.stdout.write(
      table(
        ['NAME', 'TEMPLATE', 'REGION', 'WEIGHT', 'HEALTHY', 'CIRCUIT', 'PODS', 'SESSIONS', 'CONNS', 'QUEUE'],
        items.map(poolRow),
      ),
    );
  }
  return 0;
};

const COMMANDS: Record<string, Command> = { run, exec, session, sessions: session, cp, ls, install, pools };
