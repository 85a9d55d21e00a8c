"""Stateful python kernel of the executor.

Protocol (one JSON object per line):
  fd 3 (executor -> kernel): {"id", "code", "nonce", "timeoutMs", "env"?, "invalidate"?}
  fd 4 (kernel -> executor): {"ready": true} once at start; per request any number of
    {"id", "display": {"isMain": bool, "<mime>": data, ...}} (rich results, in order), then the
    final {"id", "exitCode", "timedOut", "executionCount", "error"?: {"name", "value", "traceback"}}.
stdout/stderr are fds 1/2 (shared with child processes); after each execution the kernel writes
the marker "\\x00<nonce>\\x00" to both so the executor knows all output of that execution arrived.

A cell behaves like a Jupyter cell: the value of a final expression statement (unless None) is the
main result (`execute_result`), formatted like IPython's display formatter (`_repr_mimebundle_`,
`_repr_html_`, `_repr_png_`, ... and `repr` as text/plain); `display(obj)` sends more results
(`display_data`); matplotlib figures still open at the end of the cell (or shown with
`plt.show()`) are sent as image/png and closed. An exception is reported as a structured error
(name, value, formatted traceback without the kernel's frames); it is not printed: the executor
adds the traceback to the execution's stderr for callers that only read text.
"""
import ast
import base64
import builtins
import importlib
import importlib.abc
import importlib.util
import io
import linecache
import os
import signal
import sys
import traceback

import json  # noqa: E402

CMD_FD, REPLY_FD = 3, 4

# Headless figures in the kernel and in whatever it starts (subprocesses inherit it).
os.environ.setdefault("MPLBACKEND", "Agg")


class ExecutionTimeout(BaseException):
    """Raised inside the cell when its time is up (BaseException: `except Exception` does not swallow it)."""


_state = {"in_cell": False, "id": None}


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
    # A trailing ';' suppresses the result, as in IPython (`plt.plot(x);`).
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not _ends_with_semicolon(code):
        last = ast.Expression(body=tree.body.pop().value)
    body = compile(tree, name, "exec")
    tail = compile(last, name, "eval") if last is not None else None
    return body, tail


def _ends_with_semicolon(code):
    lines = [ln for ln in code.rstrip().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and lines[-1].rstrip().endswith(";")


def _user_traceback(exc):
    tb = exc.__traceback__
    # Drop the kernel's own frames: show the user's code only.
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _error_of(exc):
    try:
        value = str(exc)
    except BaseException:  # noqa: B902 - a broken __str__ must not kill the kernel
        value = "<unprintable %s>" % type(exc).__name__
    return {"name": type(exc).__name__, "value": value, "traceback": _user_traceback(exc)}


# ---------------------------------------------------------------- rich display

_BINARY = {"image/png", "image/jpeg", "application/pdf"}
_REPR_METHODS = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_latex_", "text/latex"),
    ("_repr_json_", "application/json"),
    ("_repr_javascript_", "application/javascript"),
    ("_repr_pdf_", "application/pdf"),
)


def _encode(mime, value):
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
        value = value[0]  # (data, metadata)
    if mime in _BINARY:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode("ascii")
        return str(value)  # already base64
    if mime == "application/json" or mime.endswith("+json"):
        if isinstance(value, (str, bytes)):
            try:
                return json.loads(value)
            except ValueError:
                return value if isinstance(value, str) else value.decode("utf-8", "replace")
        json.dumps(value)  # must be JSON-able (raises otherwise: the mime type is dropped)
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _matplotlib_figure(obj):
    mod = type(obj).__module__ or ""
    if not mod.startswith("matplotlib") or "matplotlib.figure" not in sys.modules:
        return None
    from matplotlib.figure import Figure

    return obj if isinstance(obj, Figure) else None


def _figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _safe_repr(obj):
    try:
        return repr(obj)
    except BaseException:  # noqa: B902
        return object.__repr__(obj)


def format_mimebundle(obj):
    """The mime bundle of `obj` as IPython's display formatter would build it."""
    data = {}
    rich = not isinstance(obj, type) and not hasattr(obj, "_ipython_canary_method_should_not_exist_")
    if rich:
        fig = _matplotlib_figure(obj)
        if fig is not None:
            try:
                data["image/png"] = _figure_png(fig)
                import matplotlib.pyplot as plt

                plt.close(fig)  # shown once, as this result
            except Exception:
                pass
        bundle_fn = getattr(obj, "_repr_mimebundle_", None)
        if callable(bundle_fn):
            try:
                try:
                    bundle = bundle_fn(include=None, exclude=None)
                except TypeError:
                    bundle = bundle_fn()
                if isinstance(bundle, tuple):
                    bundle = bundle[0]
                if isinstance(bundle, dict):
                    for mime, value in bundle.items():
                        try:
                            data[str(mime)] = _encode(str(mime), value)
                        except Exception:
                            pass
            except Exception:
                pass
        for method, mime in _REPR_METHODS:
            if mime in data:
                continue
            fn = getattr(obj, method, None)
            if not callable(fn):
                continue
            try:
                value = fn()
                if value is not None:
                    data[mime] = _encode(mime, value)
            except Exception:
                pass
    if "text/plain" not in data:
        data["text/plain"] = _safe_repr(obj)
    return data


def _send_display(data, is_main):
    if _state["id"] is None:
        return
    item = dict(data)
    item["isMain"] = bool(is_main)
    try:
        line = json.dumps({"id": _state["id"], "display": item})
    except (TypeError, ValueError):
        item = {k: v for k, v in item.items() if isinstance(v, (str, bool))}
        line = json.dumps({"id": _state["id"], "display": item})
    # Output written so far goes first (the executor reads both pipes; this keeps them close).
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    _write_all(REPLY_FD, (line + "\n").encode())


def display(*objs, raw=False, **_kwargs):
    """Jupyter's display(): each object becomes a result (isMain false). `raw=True`: objs are mime bundles."""
    for obj in objs:
        if raw and isinstance(obj, dict):
            _send_display({k: _encode(k, v) for k, v in obj.items()}, False)
        else:
            _send_display(format_mimebundle(obj), False)


def _flush_figures():
    """Sends every open matplotlib figure as image/png (isMain false) and closes them."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        nums = list(plt.get_fignums())
    except Exception:
        return
    for num in nums:
        try:
            fig = plt.figure(num)
            _send_display({"image/png": _figure_png(fig), "text/plain": _safe_repr(fig)}, False)
        except Exception as e:  # a broken figure must not fail the cell
            sys.stderr.write("could not render figure %s: %s\n" % (num, e))
    try:
        plt.close("all")
    except Exception:
        pass


def _show(*_args, **_kwargs):
    _flush_figures()


class _PyplotHook(importlib.abc.MetaPathFinder):
    """Once matplotlib.pyplot is imported, its show() sends the open figures (as Jupyter's inline backend)."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "matplotlib.pyplot":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            pass
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            module.show = _show

        loader.exec_module = exec_module
        return spec


# ---------------------------------------------------------------- main loop


def main():
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.argv = [""]
    builtins.display = display
    sys.meta_path.insert(0, _PyplotHook())
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
        _state["id"] = req["id"]
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        if req.get("invalidate"):
            importlib.invalidate_caches()
        saved_env = None
        if req.get("env"):
            saved_env = {k: os.environ.get(k) for k in req["env"]}
            os.environ.update(req["env"])
        exit_code, timed_out, error = 0, False, None
        timeout = max(float(req.get("timeoutMs", 30000)) / 1000.0, 0.001)
        try:
            try:
                body, tail = _compile_cell(code, name)
                _state["in_cell"] = True
                signal.setitimer(signal.ITIMER_REAL, timeout)
                exec(body, ns)
                if tail is not None:
                    value = eval(tail, ns)
                    if value is not None:
                        builtins._ = value
                        _send_display(format_mimebundle(value), True)
            finally:
                _state["in_cell"] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except ExecutionTimeout:
            exit_code, timed_out = 124, True
            message = "execution exceeded %d ms" % req.get("timeoutMs", 0)
            error = {"name": "TimeoutError", "value": message, "traceback": "TimeoutError: %s\n" % message}
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
                error = _error_of(e)
            except BaseException:
                error = {"name": "Error", "value": "", "traceback": ""}
        finally:
            if saved_env is not None:
                for k, v in saved_env.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        try:
            _flush_figures()  # also after an error, as Jupyter's post-execute hook
        except BaseException:
            pass
        if os.getpid() != kernel_pid:
            # A process forked by the cell finished the cell: it must never answer for the kernel.
            try:
                if error:
                    sys.stderr.write(error["traceback"])
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
        _state["id"] = None
        marker = ("\x00%s\x00" % req["nonce"]).encode()
        _write_all(1, marker)
        _write_all(2, marker)
        reply = {"id": req["id"], "exitCode": exit_code, "timedOut": timed_out, "executionCount": count}
        if error is not None:
            reply["error"] = error
        _reply(reply)


if __name__ == "__main__":
    main()
