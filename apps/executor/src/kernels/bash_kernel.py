"""Stateful bash kernel of the executor: a small python3 driver around one long-lived bash.

Protocol (the same JSON lines as the python and node kernels):
  fd 3 (executor -> kernel): {"id", "code", "nonce", "timeoutMs", "env"?}
  fd 4 (kernel -> executor): {"ready": true} once; then per request
    {"id", "exitCode", "timedOut", "executionCount"}.
stdout/stderr (fds 1/2) are bash's own (shared with everything it starts); after each execution the
driver writes the marker "\\x00<nonce>\\x00" to both.

Why a driver and not bash alone: bash cannot parse the JSON requests, and a cell must not read the
command stream (its stdin is /dev/null). Each cell is written to a private file and `source`d by the
one bash process, so variables, functions, aliases, options and the working directory survive from
cell to cell; its exit status comes back on a private pipe (fd 62). A cell's timeout sends SIGINT to
the process group (the driver ignores it): bash's INT trap `return`s out of the sourced cell, the
state is kept. `exit` in a cell ends bash: the driver starts a fresh one (state lost) and says so on
stderr.
"""
import json
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time

CMD_FD, REPLY_FD, STATUS_FD = 3, 4, 62
TRAP = "trap 'return 130 2>/dev/null' INT"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


def _child_setup():
    # The driver ignores SIGINT; bash must not inherit that (an ignored signal cannot be trapped).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


class Bash:
    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.status = None
        self.buf = b""

    def start(self):
        r, w = os.pipe()
        os.dup2(w, STATUS_FD)
        os.close(w)
        try:
            self.proc = subprocess.Popen(
                ["/bin/bash", "--norc", "--noprofile"],
                stdin=subprocess.PIPE,
                stdout=None,
                stderr=None,
                pass_fds=(STATUS_FD,),
                cwd=os.getcwd(),
                preexec_fn=_child_setup,
            )
        finally:
            os.close(STATUS_FD)
        self.status = r
        self.buf = b""
        self.send(TRAP + "\n")

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_status(self, deadline):
        """The cell's exit status; None on timeout; "exited" when bash ended."""
        while b"\n" not in self.buf:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            ready, _, _ = select.select([self.status], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.status, 4096)
            if not chunk:
                return "exited"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return int(line.strip() or b"0")
        except ValueError:
            return 1

    def close(self):
        try:
            os.close(self.status)
        except OSError:
            pass
        try:
            self.proc.stdin.close()
        except (OSError, BrokenPipeError):
            pass
        try:
            return self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _env_lines(env):
    pre, post = [], []
    for i, (k, v) in enumerate(sorted((env or {}).items())):
        if not NAME.match(k) or k.startswith("__ex_"):
            continue
        o, s = "__ex_o%d" % i, "__ex_s%d" % i
        pre.append(
            'if [ -n "${%s+x}" ]; then %s=$%s; %s=1; else %s=0; fi; export %s=%s'
            % (k, o, k, s, s, k, shlex.quote(v))
        )
        post.append('if [ "$%s" = 1 ]; then export %s="$%s"; else unset %s; fi; unset %s %s' % (s, k, o, k, o, s))
    return pre, post


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cells = tempfile.mkdtemp(prefix=".executor-bash-", dir=os.environ.get("TMPDIR") or "/tmp")
    bash = Bash(cells)
    bash.start()
    count = 0
    _reply({"ready": True, "pid": os.getpid()})
    for line in _read_lines():
        req = json.loads(line)
        count += 1
        path = os.path.join(cells, "cell-%d.sh" % count)
        with open(path, "w") as f:
            f.write(req["code"])
            if not req["code"].endswith("\n"):
                f.write("\n")
        pre, post = _env_lines(req.get("env"))
        command = "; ".join(
            pre
            + ["source %s </dev/null" % shlex.quote(path), "__ex_rc=$?", TRAP]
            + post
            + ["printf '%%d\\n' \"$__ex_rc\" >&%d; unset __ex_rc" % STATUS_FD]
        )
        timeout = max(float(req.get("timeoutMs", 30000)) / 1000.0, 0.001)
        exit_code, timed_out = 0, False
        try:
            bash.send(command + "\n")
            status = bash.wait_status(time.monotonic() + timeout)
        except (BrokenPipeError, OSError):
            status = "exited"
        if status is None:
            timed_out = True
            try:
                os.killpg(0, signal.SIGINT)
            except OSError:
                pass
            # The INT trap ends the cell; if it cannot (a child ignoring SIGINT), the executor kills
            # the whole kernel at its hard deadline (timeout + grace) and starts a new one.
            status = bash.wait_status(None)
        if status == "exited":
            code = bash.close()
            exit_code = code if code is not None and code >= 0 else 128 + (-code if code else 1)
            _write_all(
                2,
                (
                    "bash exited (status %d); the bash kernel was restarted: variables, functions and "
                    "the working directory are reset\n" % exit_code
                ).encode(),
            )
            bash = Bash(cells)
            bash.start()
        else:
            exit_code = status
        if timed_out:
            exit_code = 124
            _write_all(2, ("TimeoutError: execution exceeded %d ms\n" % req.get("timeoutMs", 0)).encode())
        try:
            os.unlink(path)
        except OSError:
            pass
        marker = ("\x00%s\x00" % req["nonce"]).encode()
        _write_all(1, marker)
        _write_all(2, marker)
        _reply({"id": req["id"], "exitCode": exit_code, "timedOut": timed_out, "executionCount": count})
    bash.close()


if __name__ == "__main__":
    main()
