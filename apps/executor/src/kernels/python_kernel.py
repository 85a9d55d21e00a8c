"""Stateful python kernel of the executor.

Protocol (one JSON object per line):
  fd 3 (executor -> kernel): {"id", "code", "nonce", "timeoutMs", "env"?}
  fd 4 (kernel -> executor): {"ready": true} once at start, then {"id", "exitCode", "timedOut"} per request.
stdout/stderr are fds 1/2 (shared with child processes); after each execution the kernel writes
the marker "\\x00<nonce>\\x00" to both so the executor knows all output of that execution arrived.
A cell behaves like a REPL cell: the value of a final expression statement is printed (repr),
unless it is None.
"""
import ast
import importlib
import linecache
import os
import signal
import sys
import traceback

import json  # noqa: E402

CMD_FD, REPLY_FD = 3, 4


class ExecutionTimeout(BaseException):
    """Raised inside the cell when its time is up (BaseException: `except Exception` does not swallow it)."""


_state = {"in_cell": False}


def _on_alarm(_signum, _frame):
    if _state["in_cell"]:
        raise ExecutionTimeout()


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _reply(obj):
    _write_all(REPLY_FD, (json.dumps(obj) + "\n").encode())


def _read_lines():
    buf = b""
    while True:
        chunk = os.read(CMD_FD, 1 << 20)
        if not chunk:
            return
        buf += chunk
        while True:
            i = buf.find(b"\n")
            if i < 0:
                break
            line, buf = buf[:i], buf[i + 1 :]
            if line:
                yield line


def _compile_cell(code, name):
    tree = ast.parse(code, name, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Interactive(body=[tree.body.pop()])
    body = compile(tree, name, "exec")
    tail = compile(last, name, "single") if last is not None else None
    return body, tail


def _print_exception(exc):
    tb = exc.__traceback__
    # Drop the kernel's own frames: show the user's code only.
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


def main():
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.argv = [""]
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    sys.path.insert(0, os.getcwd())
    count = 0
    kernel_pid = os.getpid()
    _reply({"ready": True, "pid": kernel_pid})
    for line in _read_lines():
        req = json.loads(line)
        count += 1
        name = "<cell-%d>" % count
        code = req["code"]
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        if req.get("invalidate"):
            importlib.invalidate_caches()
        saved_env = None
        if req.get("env"):
            saved_env = {k: os.environ.get(k) for k in req["env"]}
            os.environ.update(req["env"])
        exit_code, timed_out = 0, False
        timeout = max(float(req.get("timeoutMs", 30000)) / 1000.0, 0.001)
        try:
            try:
                body, tail = _compile_cell(code, name)
                _state["in_cell"] = True
                signal.setitimer(signal.ITIMER_REAL, timeout)
                exec(body, ns)
                if tail is not None:
                    exec(tail, ns)
            finally:
                _state["in_cell"] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except ExecutionTimeout:
            exit_code, timed_out = 124, True
            sys.stderr.write("TimeoutError: execution exceeded %d ms\n" % req.get("timeoutMs", 0))
        except SystemExit as e:
            if e.code is None:
                exit_code = 0
            elif isinstance(e.code, int):
                exit_code = e.code
            else:
                sys.stderr.write(str(e.code) + "\n")
                exit_code = 1
        except BaseException as e:  # noqa: B902 - report everything, keep the kernel alive
            exit_code = 1
            try:
                _print_exception(e)
            except BaseException:
                pass
        finally:
            if saved_env is not None:
                for k, v in saved_env.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        if os.getpid() != kernel_pid:
            # A process forked by the cell finished the cell: it must never answer for the kernel.
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(exit_code if 0 <= exit_code < 256 else 1)
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        try:
            sys.stderr.flush()
        except BaseException:
            pass
        marker = ("\x00%s\x00" % req["nonce"]).encode()
        _write_all(1, marker)
        _write_all(2, marker)
        _reply({"id": req["id"], "exitCode": exit_code, "timedOut": timed_out})


if __name__ == "__main__":
    main()
