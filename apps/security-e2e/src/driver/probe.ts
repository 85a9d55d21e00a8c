// Session code that proves it ran: it prints a nonce first, then one JSON result line. A probe
// whose nonce or result is missing did not execute: that is an invalid attack, never a pass.
import { randomBytes } from 'node:crypto';
import type { Execution } from './api';

export class InvalidProbe extends Error {}
export class Breach extends Error {}

export function nonce(): string {
  return randomBytes(8).toString('hex');
}

/** Python helpers every probe starts with: `attempt(fn)` turns an outcome into JSON. */
export const PY_PRELUDE = String.raw`
import os, sys, json, time, errno as _errno, socket, ctypes, platform as _platform
def attempt(fn):
    try:
        v = fn()
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if not isinstance(v, (str, int, float, bool, list, dict, type(None))):
            v = repr(v)
        return {"ok": True, "value": v}
    except OSError as e:
        return {"ok": False, "errno": _errno.errorcode.get(e.errno) if e.errno else None,
                "type": type(e).__name__, "msg": str(e)[:300]}
    except BaseException as e:
        return {"ok": False, "errno": None, "type": type(e).__name__, "msg": str(e)[:300]}
def read(p, n=65536):
    with open(p, "rb") as f:
        return f.read(n).decode("utf-8", "replace")
def connect_tcp(host, port, timeout=3):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return "connected"
    finally:
        s.close()
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_ARCH = _platform.machine()
_NR = {
  "x86_64": dict(unshare=272, mount=165, ptrace=101, bpf=321, keyctl=250, add_key=248, init_module=175,
                 finit_module=313, delete_module=176, perf_event_open=298, open_by_handle_at=304,
                 name_to_handle_at=303, setns=308, kexec_load=246, reboot=169, swapon=167, chroot=161,
                 userfaultfd=323, io_uring_setup=425, syslog=103, pivot_root=155, umount2=166,
                 acct=163, clock_settime=227),
  "aarch64": dict(unshare=97, mount=40, ptrace=117, bpf=280, keyctl=219, add_key=217, init_module=105,
                  finit_module=273, delete_module=106, perf_event_open=241, open_by_handle_at=265,
                  name_to_handle_at=264, setns=268, kexec_load=104, reboot=142, swapon=224, chroot=51,
                  userfaultfd=282, io_uring_setup=425, syslog=116, pivot_root=41, umount2=39,
                  acct=89, clock_settime=112),
}.get(_ARCH)
def sysc(name, *args):
    """A raw syscall: {"ok": True, "value": ret} or {"ok": False, "errno": name}."""
    if _NR is None:
        return {"ok": False, "errno": None, "type": "UnsupportedArch", "msg": _ARCH}
    cargs = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    r = _libc.syscall(ctypes.c_long(_NR[name]), *cargs)
    if r == -1:
        e = ctypes.get_errno()
        return {"ok": False, "errno": _errno.errorcode.get(e, str(e)), "type": "OSError", "msg": os.strerror(e)}
    return {"ok": True, "value": r}
`;

export interface ProbeResult<R> {
  R: R;
  exec: Execution;
  nonce: string;
}

/** Wraps a python body (which fills the dict `R`, reading parameters from `P`). */
export function pythonProbe(body: string, params: unknown, n: string): string {
  return [
    `print("SEC-E2E-START ${n}", flush=True)`,
    PY_PRELUDE,
    `P = json.loads(${JSON.stringify(JSON.stringify(params ?? {}))})`,
    'R = {}',
    body,
    `print("SEC-E2E-RESULT ${n} " + json.dumps(R), flush=True)`,
  ].join('\n');
}

/** Wraps a node body (which fills the object `R`, reading parameters from `P`). */
export function nodeProbe(body: string, params: unknown, n: string): string {
  return [
    `console.log("SEC-E2E-START ${n}");`,
    `var P = ${JSON.stringify(params ?? {})};`,
    'var R = {};',
    'var attempt = (fn) => { try { return { ok: true, value: fn() }; } catch (e) { return { ok: false, errno: e && e.code, type: e && e.name, msg: String(e && e.message).slice(0, 300) }; } };',
    body,
    `console.log("SEC-E2E-RESULT ${n} " + JSON.stringify(R));`,
  ].join('\n');
}

/** Reads the result of a probe; throws InvalidProbe when it did not run to the end. */
export function parseProbe<R>(exec: Execution, n: string): R {
  const out = exec.stdout ?? '';
  if (!out.includes(`SEC-E2E-START ${n}`))
    throw new InvalidProbe(
      `probe did not run (no start nonce): exit ${exec.exitCode}, timedOut ${exec.timedOut}\nstdout: ${out.slice(0, 1500)}\nstderr: ${(exec.stderr ?? '').slice(0, 1500)}`,
    );
  const m = new RegExp(`SEC-E2E-RESULT ${n} (.*)`).exec(out);
  if (!m)
    throw new InvalidProbe(
      `probe started but did not finish: exit ${exec.exitCode}, timedOut ${exec.timedOut}\nstdout: ${out.slice(0, 1500)}\nstderr: ${(exec.stderr ?? '').slice(0, 1500)}`,
    );
  return JSON.parse(m[1] as string) as R;
}

/** Outcome of one `attempt(...)` in a probe. */
export interface Attempt {
  ok: boolean;
  value?: unknown;
  errno?: string | null;
  type?: string;
  msg?: string;
}

export function show(a: Attempt | undefined): string {
  if (!a) return 'missing';
  if (a.ok) return `ok(${JSON.stringify(a.value).slice(0, 120)})`;
  return `${a.errno ?? a.type}${a.msg ? ` (${a.msg.slice(0, 80)})` : ''}`;
}

/** Requires a recognisable "blocked" outcome (an errno / exception type of `allowed`). */
export function expectBlocked(what: string, a: Attempt | undefined, allowed: string[]): string {
  if (!a) throw new InvalidProbe(`${what}: the probe recorded no outcome`);
  if (a.ok) throw new Breach(`${what}: succeeded: ${show(a)}`);
  const name = a.errno ?? a.type ?? '';
  if (!allowed.includes(name))
    throw new InvalidProbe(
      `${what}: failed, but not recognisably blocked: ${show(a)} (expected one of ${allowed.join(', ')})`,
    );
  return `${what}: ${name}`;
}
