'use strict';
/**
 * Stateful JavaScript / TypeScript kernel of the executor (`node node_kernel.js [node|typescript]`).
 *
 * Protocol (one JSON object per line):
 *   fd 3 (executor -> kernel): {"id", "code", "nonce", "timeoutMs", "env"?}
 *   fd 4 (kernel -> executor): {"ready": true} once; per request any number of
 *     {"id", "display": {"isMain": bool, "<mime>": data}} (rich results), then the final
 *     {"id", "exitCode", "timedOut", "executionCount", "error"?: {"name", "value", "traceback"}}.
 * Output goes to fds 1/2 with synchronous writes (never buffered in the kernel); after each execution
 * the marker "\0<nonce>\0" is written to both.
 *
 * State: every cell runs with vm.runInThisContext, so top-level declarations live in the global
 * script scope shared by all cells. TypeScript cells are transpiled with ts.transpileModule and their
 * top-level `const`/`let`/`class` declarations are rewritten to `var` (global properties), which also
 * makes re-running a cell that declares the same name legal. JavaScript cells are run as written
 * (loading the compiler in every node kernel would cost ~50 MB): re-declaring a top-level const/let
 * of an earlier cell fails as in any script ("Identifier 'x' has already been declared").
 * Cells containing top-level `await` run inside an async function (their declarations are local).
 * The completion value of a cell (unless undefined) is its main result, text/plain via util.inspect
 * (the executor adds it to stdout for callers that read text only, as the node REPL prints it);
 * `display(value)` sends more results. A thrown error is a structured error (err.name, err.message,
 * the stack without the kernel's frames), not printed: the executor adds it to stderr.
 */
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const vm = require('node:vm');
const { createRequire } = require('node:module');

const MODE = process.argv[2] === 'typescript' ? 'typescript' : 'node';
const CMD_FD = 3;
const REPLY_FD = 4;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function writeAllSync(fd, data) {
  const buf =
    typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e && e.code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 1); // the reader is behind: wait 1 ms (never buffer in memory)
        continue;
      }
      throw e;
    }
  }
}

function patchStream(stream, fd) {
  stream.write = function (chunk, encoding, cb) {
    if (typeof encoding === 'function') cb = encoding;
    if (
      typeof chunk === 'string' &&
      typeof encoding === 'string' &&
      encoding !== 'utf8' &&
      encoding !== 'utf-8'
    ) {
      chunk = Buffer.from(chunk, encoding);
    }
    writeAllSync(fd, chunk);
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}
patchStream(process.stdout, 1);
patchStream(process.stderr, 2);

let ts;
function typescript() {
  if (!ts) {
    const candidates = [process.env.EXECUTOR_TYPESCRIPT, 'typescript'].filter(Boolean);
    let lastErr;
    for (const c of candidates) {
      try {
        ts = require(c);
        break;
      } catch (e) {
        lastErr = e;
      }
    }
    if (!ts) throw lastErr;
  }
  return ts;
}

const workspaceRequire = createRequire(path.join(process.cwd(), '__cell__.js'));
globalThis.require = workspaceRequire;
globalThis.module = { exports: {}, require: workspaceRequire };
globalThis.exports = globalThis.module.exports;
globalThis.__filename = path.join(process.cwd(), '__cell__.js');
globalThis.__dirname = process.cwd();

/** Rewrites top-level let/const/class declarations of a JS source to `var` (global properties). */
function hoistTopLevel(js) {
  const t = typescript();
  const sf = t.createSourceFile('cell.js', js, t.ScriptTarget.ES2022, true, t.ScriptKind.JS);
  const edits = [];
  for (const st of sf.statements) {
    if (t.isVariableStatement(st) && st.declarationList.flags & (t.NodeFlags.Let | t.NodeFlags.Const)) {
      const start = st.declarationList.getStart(sf);
      const kw = js.startsWith('const', start) ? 5 : 3;
      edits.push({ start, end: start + kw, text: 'var' });
    } else if (t.isClassDeclaration(st) && st.name) {
      edits.push({ start: st.getStart(sf), end: st.getStart(sf), text: `var ${st.name.text} = ` });
      edits.push({ start: st.end, end: st.end, text: ';' });
    }
  }
  edits.sort((a, b) => b.start - a.start);
  let out = js;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

function transpile(code, name) {
  const t = typescript();
  const r = t.transpileModule(code, {
    fileName: name,
    reportDiagnostics: true,
    compilerOptions: {
      target: t.ScriptTarget.ES2022,
      module: t.ModuleKind.CommonJS,
      esModuleInterop: true,
      alwaysStrict: false,
      sourceMap: false,
      experimentalDecorators: true,
    },
  });
  const diags = (r.diagnostics || []).filter((d) => d.category === t.DiagnosticCategory.Error);
  if (diags.length) {
    const text = diags
      .map((d) => {
        const msg = t.flattenDiagnosticMessageText(d.messageText, '\n');
        if (d.file && d.start !== undefined) {
          const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
          return `${name}:${line + 1}:${character + 1} - error TS${d.code}: ${msg}`;
        }
        return `error TS${d.code}: ${msg}`;
      })
      .join('\n');
    const err = new SyntaxError(text);
    err.stack = text;
    throw err;
  }
  return hoistTopLevel(r.outputText);
}

/**
 * For a cell run inside an async function (top-level await): `return` the value of its last
 * expression statement, so it is the cell's result as in the REPL. Needs the typescript parser
 * (present for the typescript kernel and wherever the executor ships it); without it the cell's
 * value is undefined.
 */
function returnLast(js) {
  let t;
  try {
    t = typescript();
  } catch {
    return js;
  }
  const sf = t.createSourceFile('cell.js', js, t.ScriptTarget.ES2022, true, t.ScriptKind.JS);
  const last = sf.statements[sf.statements.length - 1];
  if (!last || !t.isExpressionStatement(last)) return js;
  const start = last.getStart(sf);
  const expr = js.slice(start, last.expression.end);
  return `${js.slice(0, start)}return (${expr});${js.slice(last.end)}`;
}

function compileScript(js, name) {
  try {
    return new vm.Script(js, { filename: name });
  } catch (e) {
    if (e instanceof SyntaxError && /\bawait\b/.test(js)) {
      return {
        async: true,
        script: new vm.Script(`(async () => {\n${returnLast(js)}\n})()`, { filename: name, lineOffset: -1 }),
      };
    }
    throw e;
  }
}

function cleanStack(err) {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return util.inspect(err);
  const lines = err.stack.split('\n');
  const keep = lines.filter((l) => !l.includes(__filename) && !/node:vm|node:internal/.test(l));
  return keep.join('\n');
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`execution exceeded ${ms} ms`), { executionTimeout: true })),
        ms,
      );
    }),
  ]);
}

let current = null; // id of the request being run (display() needs it)

function bundleOf(value, isMain) {
  const item = { isMain, 'text/plain': util.inspect(value, { colors: false, depth: 4 }) };
  if (value && (typeof value === 'object' || typeof value === 'function')) {
    for (const [method, mime] of [
      ['_repr_html_', 'text/html'],
      ['_repr_markdown_', 'text/markdown'],
      ['_repr_svg_', 'image/svg+xml'],
      ['_repr_png_', 'image/png'],
      ['_repr_latex_', 'text/latex'],
      ['_repr_json_', 'application/json'],
    ]) {
      try {
        if (typeof value[method] === 'function') {
          const v = value[method]();
          if (v !== undefined && v !== null) item[mime] = Buffer.isBuffer(v) ? v.toString('base64') : v;
        }
      } catch {
        // a broken _repr_ is skipped
      }
    }
  }
  return item;
}

function sendDisplay(item) {
  if (current === null) return;
  try {
    reply({ id: current, display: item });
  } catch {
    reply({ id: current, display: { isMain: item.isMain, 'text/plain': item['text/plain'] } });
  }
}

/** Jupyter-style display(): every argument becomes a result (isMain false). */
globalThis.display = (...values) => {
  for (const v of values) sendDisplay(bundleOf(v, false));
};

function errorOf(e) {
  if (e instanceof Error) {
    return { name: String(e.name || 'Error'), value: String(e.message ?? ''), traceback: cleanStack(e) };
  }
  return { name: 'Error', value: util.inspect(e), traceback: `Uncaught ${util.inspect(e)}` };
}

let cellNo = 0;
async function runCell(req) {
  cellNo += 1;
  current = req.id;
  const name = MODE === 'typescript' ? `cell-${cellNo}.ts` : `cell-${cellNo}.js`;
  const timeoutMs = Math.max(1, Number(req.timeoutMs) || 30000);
  let exitCode = 0;
  let timedOut = false;
  let error;
  const savedEnv = {};
  if (req.env) {
    for (const k of Object.keys(req.env)) savedEnv[k] = process.env[k];
    Object.assign(process.env, req.env);
  }
  const started = Date.now();
  try {
    const js = MODE === 'typescript' ? transpile(req.code, name) : req.code;
    const compiled = compileScript(js, name);
    let value;
    if (compiled.async) {
      value = await withTimeout(
        compiled.script.runInThisContext({ timeout: timeoutMs, displayErrors: false }),
        timeoutMs - (Date.now() - started),
      );
    } else {
      value = compiled.runInThisContext({ timeout: timeoutMs, displayErrors: false });
      if (
        value &&
        typeof value.then === 'function' &&
        Object.prototype.toString.call(value) === '[object Promise]'
      ) {
        value = await withTimeout(value, Math.max(1, timeoutMs - (Date.now() - started)));
      }
    }
    if (value !== undefined) sendDisplay(bundleOf(value, true));
  } catch (e) {
    if (e && (e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT' || e.executionTimeout)) {
      timedOut = true;
      exitCode = 124;
      const message = `execution exceeded ${timeoutMs} ms`;
      error = { name: 'TimeoutError', value: message, traceback: `TimeoutError: ${message}\n` };
    } else if (e && e.executorExit !== undefined) {
      exitCode = e.executorExit;
    } else {
      exitCode = 1;
      error = errorOf(e);
      if (!error.traceback.endsWith('\n')) error.traceback += '\n';
    }
  } finally {
    current = null;
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return { exitCode, timedOut, error, executionCount: cellNo };
}

// process.exit() in a cell ends the cell with that code instead of killing the kernel.
const realExit = process.exit.bind(process);
process.exit = (code) => {
  const err = new Error('process.exit');
  err.executorExit = typeof code === 'number' ? code : 0;
  throw err;
};
process.on('uncaughtException', (e) => writeAllSync(2, `Uncaught ${cleanStack(e)}\n`));
process.on('unhandledRejection', (e) => writeAllSync(2, `Unhandled rejection: ${cleanStack(e)}\n`));

function reply(obj) {
  writeAllSync(REPLY_FD, JSON.stringify(obj) + '\n');
}

async function main() {
  if (MODE === 'typescript') typescript(); // load the compiler before announcing ready (warm kernels)
  const input = new net.Socket({ fd: CMD_FD, readable: true, writable: false });
  input.on('end', () => realExit(0));
  input.on('error', () => realExit(0));
  let buf = '';
  let chain = Promise.resolve();
  input.setEncoding('utf8');
  input.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line) continue;
      const req = JSON.parse(line);
      chain = chain.then(async () => {
        const r = await runCell(req);
        const marker = `\0${req.nonce}\0`;
        writeAllSync(1, marker);
        writeAllSync(2, marker);
        const out = {
          id: req.id,
          exitCode: r.exitCode,
          timedOut: r.timedOut,
          executionCount: r.executionCount,
        };
        if (r.error) out.error = r.error;
        reply(out);
      });
    }
  });
  reply({ ready: true, pid: process.pid });
}

main().catch((e) => {
  writeAllSync(2, `kernel failed to start: ${cleanStack(e)}\n`);
  realExit(70);
});
