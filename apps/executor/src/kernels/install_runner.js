'use strict';
// Runs one package install inside the installer's sandbox (see apps/executor/src/packages).
//
//   node install_runner.js [--socket PATH] [--merge SRC DEST] -- <installer argv…>
//
// --socket PATH  The sandbox has no network of its own (a private network namespace with only
//                loopback). This listens on 127.0.0.1:<free port> of that namespace and forwards
//                every connection to the unix socket PATH, behind which the executor runs an
//                HTTP/CONNECT proxy that lets through the package index hosts only. The installer
//                gets HTTP(S)_PROXY pointing here. Without --socket the installer has no network.
// --merge S D    After a successful install, moves every entry of directory S into D (replacing
//                entries of the same name): npm installs into a private staging directory, and
//                only its result lands in the session's workspace.
//
// Exits with the installer's exit code. This file is the executor's (read-only in the sandbox);
// nothing the session wrote is on its path.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

function parse(argv) {
  const opts = { socket: undefined, merge: undefined, command: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      opts.command = argv.slice(i + 1);
      break;
    }
    if (a === '--socket') opts.socket = argv[++i];
    else if (a === '--merge') opts.merge = [argv[++i], argv[++i]];
    else throw new Error(`install_runner: unknown option ${a}`);
  }
  if (!opts.command.length) throw new Error('install_runner: no installer command after --');
  return opts;
}

function forwarder(socketPath) {
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    const done = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function merge(src, dest) {
  fs.mkdirSync(dest, { recursive: true });
  for (const name of fs.readdirSync(src)) {
    const from = path.join(src, name);
    const to = path.join(dest, name);
    fs.rmSync(to, { recursive: true, force: true });
    try {
      fs.renameSync(from, to);
    } catch {
      fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true, force: true });
    }
  }
}

async function main() {
  const opts = parse(process.argv.slice(2));
  const env = { ...process.env };
  for (const k of [
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'http_proxy',
    'https_proxy',
    'NO_PROXY',
    'no_proxy',
    'ALL_PROXY',
    'all_proxy',
  ])
    delete env[k];
  let server;
  if (opts.socket) {
    server = await forwarder(opts.socket);
    const url = `http://127.0.0.1:${server.address().port}`;
    Object.assign(env, { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url });
  }
  const [cmd, ...args] = opts.command;
  const child = spawn(cmd, args, { env, stdio: 'inherit' });
  const code = await new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`install_runner: ${cmd}: ${err.message}\n`);
      resolve(127);
    });
    child.on('exit', (c, signal) => resolve(c === null ? 128 + (signal === 'SIGKILL' ? 9 : 15) : c));
  });
  if (server) server.close();
  if (code === 0 && opts.merge) {
    try {
      merge(opts.merge[0], opts.merge[1]);
    } catch (err) {
      process.stderr.write(
        `install_runner: moving the installed files into the workspace failed: ${err.message}\n`,
      );
      process.exit(1);
    }
  }
  process.exit(code);
}

main().catch((err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
