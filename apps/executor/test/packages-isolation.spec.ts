// Package installs never run anything the session wrote, never with the session's environment, and
// reach the package index only. Every attack first proves that what it planted really works on
// session processes (so a pass is not vacuous), then installs, then checks that nothing of it ran.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { JobCallError, PodJobDefs } from '@executor/queues';
import {
  buildWheelDir,
  startNpmRegistry,
  startPipIndex,
  type NpmRegistry,
  type PipIndex,
} from '@executor/testing';
import { SANDBOX_WORKSPACE } from '../src/sandbox/sandbox';
import { PodDriver, startHarness, type Harness } from './harness';

/** A TCP listener on host loopback that counts connections: a stand-in for any local service. */
async function countingListener(): Promise<{
  port: number;
  connections: () => number;
  close(): Promise<void>;
}> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    n++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => n,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * An sdist whose build backend (package code that pip runs at install time, like a setup.py)
 * probes the network from inside the installer: loopback Redis and a loopback service directly,
 * then through the installer's proxy to loopback ports, another host name and the index itself.
 * It writes what it saw to <workspace>/probe.json (the proof that it ran) and builds a wheel.
 */
function buildProbeSdist(
  dir: string,
  probe: { redisPort: number; listenerPort: number; indexPort: number },
): void {
  const script = String.raw`
import io, os, sys, tarfile, textwrap
d, ws, redis_port, listener_port, index_port = sys.argv[1:6]
backend = textwrap.dedent(f'''
import base64, hashlib, json, os, socket, zipfile

def _direct(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        return "connected"
    except Exception as e:
        return type(e).__name__

def _via_proxy(target):
    proxy = os.environ.get("HTTPS_PROXY", "")
    if not proxy:
        return "no proxy"
    host, port = proxy.replace("http://", "").rstrip("/").rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(("CONNECT " + target + " HTTP/1.1\\r\\nHost: " + target + "\\r\\n\\r\\n").encode())
    line = s.recv(200).split(b"\\r\\n")[0].decode()
    s.close()
    return line

def _probe():
    r = {{"uid": os.getuid(), "proxy": os.environ.get("HTTPS_PROXY", "")}}
    r["direct redis"] = _direct({redis_port})
    r["direct listener"] = _direct({listener_port})
    for t in ["127.0.0.1:{redis_port}", "localhost:{listener_port}", "127.0.0.1:{listener_port}", "example.invalid:443", "127.0.0.1:{index_port}"]:
        try:
            r["via " + t] = _via_proxy(t)
        except Exception as e:
            r["via " + t] = "error " + type(e).__name__
    with open(os.path.join({ws!r}, "probe.json"), "w") as f:
        json.dump(r, f)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _probe()
    name = "probebuild-1.0-py3-none-any.whl"
    info = "probebuild-1.0.dist-info"
    files = {{
        "probebuild/__init__.py": "VALUE = 'built'\\n",
        info + "/METADATA": "Metadata-Version: 2.1\\nName: probebuild\\nVersion: 1.0\\n",
        info + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: probe\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    def h(c):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
    record = "".join(p + "," + h(c) + "," + str(len(c.encode())) + "\\n" for p, c in files.items()) + info + "/RECORD,,\\n"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for p, c in files.items():
            z.writestr(p, c)
        z.writestr(info + "/RECORD", record)
    return name
''')
pyproject = '[build-system]\nrequires = []\nbuild-backend = "probe_backend"\nbackend-path = ["."]\n'
pkginfo = "Metadata-Version: 2.1\nName: probebuild\nVersion: 1.0\n"
with tarfile.open(os.path.join(d, "probebuild-1.0.tar.gz"), "w:gz") as t:
    for name, content in [("pyproject.toml", pyproject), ("probe_backend.py", backend), ("PKG-INFO", pkginfo)]:
        data = content.encode()
        ti = tarfile.TarInfo("probebuild-1.0/" + name)
        ti.size = len(data)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
`;
  execFileSync('python3', [
    '-c',
    script,
    dir,
    SANDBOX_WORKSPACE,
    String(probe.redisPort),
    String(probe.listenerPort),
    String(probe.indexPort),
  ]);
}

async function installError(p: Promise<unknown>): Promise<JobCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobCallError);
  return err as JobCallError;
}

describe('package installs: only the index, nothing the session wrote', () => {
  let h: Harness;
  let hostile: Awaited<ReturnType<typeof countingListener>>;
  beforeAll(async () => {
    h = await startHarness();
    hostile = await countingListener();
  });
  afterAll(async () => {
    await hostile?.close();
    await h?.stop();
  });

  describe('pip', () => {
    let pod: PodDriver;
    let index: PipIndex;
    let dir: string;
    const redisPort = (): number => Number(new URL(h.redis.url).port);

    beforeAll(async () => {
      dir = buildWheelDir('tinypkg==1.2.3');
      index = await startPipIndex(dir);
      buildProbeSdist(dir, { redisPort: redisPort(), listenerPort: hostile.port, indexPort: index.port });
      pod = await PodDriver.start(h, 'python', { PIP_INDEX_URL: index.url, WARM_KERNELS: '0' });
    });
    afterAll(async () => {
      await pod?.stop();
      await index?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs package build code (the sdist backend, like a setup.py) without any network but the index: no loopback Redis, no other port or host', async () => {
      const { id } = await pod.open();
      expect((await pod.exec(id, 'import os\nprint(os.getcwd())')).stdout).toBe(`${SANDBOX_WORKSPACE}\n`);
      const before = hostile.connections();
      const inst = await h.client.call(
        pod.queue,
        PodJobDefs.packagesInstall,
        { sessionId: id, tenant: 'acme', packages: ['probebuild==1.0'] },
        { timeoutMs: 120_000 },
      );
      expect(inst.installed).toEqual([{ name: 'probebuild', version: '1.0' }]);
      // the probe ran (it wrote probe.json from inside the installer) …
      const probe = JSON.parse((await pod.get(id, 'probe.json')).toString()) as Record<string, string>;
      expect(probe['proxy']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // … its own loopback has nothing of the host: Redis and the loopback service are not there
      expect(probe['direct redis']).toBe('ConnectionRefusedError');
      expect(probe['direct listener']).toBe('ConnectionRefusedError');
      // … and the proxy lets through the index alone
      expect(probe[`via 127.0.0.1:${redisPort()}`]).toBe('HTTP/1.1 403 Forbidden');
      expect(probe[`via localhost:${hostile.port}`]).toBe('HTTP/1.1 403 Forbidden');
      expect(probe[`via 127.0.0.1:${hostile.port}`]).toBe('HTTP/1.1 403 Forbidden');
      expect(probe['via example.invalid:443']).toBe('HTTP/1.1 403 Forbidden');
      expect(probe[`via 127.0.0.1:${index.port}`]).toBe('HTTP/1.1 200 Connection Established');
      expect(hostile.connections()).toBe(before);
      expect(index.requests).toContain('/simple/probebuild/');
      expect((await pod.exec(id, 'import probebuild\nprint(probebuild.VALUE)')).stdout).toBe('built\n');
    }, 180_000);

    it("never runs the session's sitecustomize/usercustomize, workspace modules, PYTHONPATH or pip config", async () => {
      const { id } = await pod.open({
        env: {
          PYTHONPATH: `${SANDBOX_WORKSPACE}/evil`,
          PIP_INDEX_URL: `http://127.0.0.1:${hostile.port}/simple/`,
          PIP_CONFIG_FILE: `${SANDBOX_WORKSPACE}/evil/pip.conf`,
        },
      });
      const plant = [
        'import os, subprocess, sys',
        'ws = os.getcwd()',
        'os.makedirs(ws + "/markers", exist_ok=True)',
        'def marker(name):',
        "    return f\"import pathlib; pathlib.Path({ws!r} + '/markers/{name}').write_text('ran')\\n\"",
        'for d in [".packages/python", "evil"]:',
        '    os.makedirs(d, exist_ok=True)',
        '    for mod in ["sitecustomize", "usercustomize"]:',
        '        open(f"{d}/{mod}.py", "w").write(marker(d.replace("/", "_") + "-" + mod))',
        // a `pip` package in the workspace root, and one on PYTHONPATH, shadowing the real pip
        'for d in [".", "evil"]:',
        '    os.makedirs(f"{d}/pip", exist_ok=True)',
        '    open(f"{d}/pip/__init__.py", "w").write(marker(d.strip(".") + "shadow-pip"))',
        '    open(f"{d}/pip/__main__.py", "w").write(marker(d.strip(".") + "shadow-pip-main"))',
        `open("evil/pip.conf", "w").write("[global]\\nindex-url = http://127.0.0.1:${hostile.port}/simple/\\n")`,
        'os.makedirs(os.environ["HOME"] + "/.config/pip", exist_ok=True)',
        `open(os.environ["HOME"] + "/.config/pip/pip.conf", "w").write("[global]\\nindex-url = http://127.0.0.1:${hostile.port}/simple/\\n")`,
        // proof: python processes of the session run every planted module and read the planted config
        'subprocess.run([sys.executable, "-c", "pass"], check=True)',
        'subprocess.run([sys.executable, "-c", "pass"], env={**os.environ, "PYTHONPATH": ws + "/.packages/python"}, check=True)',
        'subprocess.run([sys.executable, "-m", "pip", "--version"], cwd=ws, env={**os.environ, "PYTHONPATH": ""})',
        'clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}',
        'print(sorted(os.listdir("markers")))',
        'print(subprocess.run([sys.executable, "-m", "pip", "config", "list"], cwd="/", env=clean, capture_output=True, text=True).stdout.strip().replace(chr(10), " "))',
        'for f in os.listdir("markers"): os.remove("markers/" + f)',
      ].join('\n');
      const proof = await pod.exec(id, plant, 30_000);
      expect(proof.stderr).toBe('');
      const [markers, config] = proof.stdout.trim().split('\n', 2);
      for (const m of [
        'evil-sitecustomize',
        '.packages_python-sitecustomize',
        'shadow-pip',
        'shadow-pip-main',
      ])
        expect(markers).toContain(`'${m}'`);
      expect(config).toContain(`127.0.0.1:${hostile.port}`);
      const before = hostile.connections();

      const inst = await h.client.call(
        pod.queue,
        PodJobDefs.packagesInstall,
        { sessionId: id, tenant: 'acme', packages: ['tinypkg==1.2.3'] },
        { timeoutMs: 120_000 },
      );
      expect(inst.installed).toEqual([{ name: 'tinypkg', version: '1.2.3' }]);
      expect((await pod.exec(id, 'import os\nprint(sorted(os.listdir("markers")))')).stdout).toBe('[]\n');
      expect(hostile.connections()).toBe(before);
      expect((await pod.exec(id, 'import tinypkg\nprint(tinypkg.VALUE)')).stdout).toBe('1.2.3\n');
    }, 180_000);
  });

  describe('npm', () => {
    let pod: PodDriver;
    let registry: NpmRegistry;
    const script = (name: string): string =>
      `node -e "require('fs').writeFileSync('${SANDBOX_WORKSPACE}/markers/${name}', 'ran')"`;

    beforeAll(async () => {
      registry = await startNpmRegistry([
        {
          name: 'evilpkg',
          version: '1.0.0',
          dependencies: { plaindep: '^1.0.0' },
          scripts: {
            preinstall: script('preinstall'),
            install: script('install'),
            postinstall: script('postinstall'),
          },
        },
        { name: 'plaindep', version: '1.0.0' },
        { name: 'plaindep', version: '1.1.0' },
      ]);
      pod = await PodDriver.start(h, 'node', { NPM_REGISTRY: registry.url, WARM_KERNELS: '0' });
    });
    afterAll(async () => {
      await pod?.stop();
      await registry?.close();
    });

    it("ignores install scripts, the workspace's package.json and .npmrc, the session's ~/.npmrc, NODE_OPTIONS and npm_config_*", async () => {
      const hostileUrl = `http://127.0.0.1:${hostile.port}/`;
      const { id } = await pod.open({
        env: {
          NODE_OPTIONS: `--require ${SANDBOX_WORKSPACE}/evil.js`,
          npm_config_registry: hostileUrl,
          npm_config_dry_run: 'true',
          npm_config_ignore_scripts: 'false',
        },
      });
      const plant = [
        'const fs = require("fs"), cp = require("child_process");',
        'fs.mkdirSync("markers", { recursive: true });',
        `fs.writeFileSync("evil.js", "require('fs').writeFileSync('${SANDBOX_WORKSPACE}/markers/node-options', 'ran')\\n");`,
        // the workspace's .npmrc (project config; also the user config when HOME is the workspace) …
        `fs.writeFileSync(".npmrc", "dry-run=true\\nignore-scripts=false\\noffline=true\\nregistry=${hostileUrl}\\nscript-shell=${SANDBOX_WORKSPACE}/evil.sh\\n");`,
        // … and ~/.npmrc where HOME is elsewhere
        `if (process.env.HOME !== process.cwd()) fs.writeFileSync(process.env.HOME + "/.npmrc", "offline=true\\nregistry=${hostileUrl}\\n");`,
        `fs.writeFileSync("package.json", JSON.stringify({ name: "ws", dependencies: { hostiledep: "${hostileUrl}hostiledep.tgz" }, scripts: { postinstall: "node evil.js" } }));`,
        `fs.writeFileSync("evil.sh", "#!/bin/sh\\necho ran > ${SANDBOX_WORKSPACE}/markers/script-shell\\n"); fs.chmodSync("evil.sh", 0o755);`,
        // proof: a node process of the session loads NODE_OPTIONS; npm in the workspace reads the planted config
        'cp.execFileSync("/usr/bin/node", ["-e", "1"]);',
        'const cfg = (k) => cp.execFileSync("/usr/bin/npm", ["config", "get", k], { encoding: "utf8" }).trim();',
        'console.log(JSON.stringify({ markers: fs.readdirSync("markers"), dryRun: cfg("dry-run"), offline: cfg("offline"), registry: cfg("registry") }));',
        'for (const f of fs.readdirSync("markers")) fs.rmSync("markers/" + f);',
      ].join('\n');
      const proof = await pod.exec(id, plant, 30_000);
      expect(proof.stderr).toBe('');
      expect(JSON.parse(proof.stdout)).toEqual({
        markers: ['node-options'],
        dryRun: 'true',
        offline: 'true',
        registry: hostileUrl,
      });
      const before = hostile.connections();

      const inst = await h.client.call(
        pod.queue,
        PodJobDefs.packagesInstall,
        { sessionId: id, tenant: 'acme', packages: ['evilpkg@1.0.0'] },
        { timeoutMs: 120_000 },
      );
      expect(inst.installed).toEqual([{ name: 'evilpkg', version: '1.0.0' }]);
      const after = await pod.exec(
        id,
        [
          '{ const fs = require("fs");',
          'console.log(JSON.stringify({',
          '  markers: fs.readdirSync("markers"),',
          '  scripts: Object.keys(JSON.parse(fs.readFileSync("node_modules/evilpkg/package.json", "utf8")).scripts),',
          '  evil: require("evilpkg"), dep: require("plaindep"),',
          '  hostiledep: fs.existsSync("node_modules/hostiledep"),',
          '})); }',
        ].join('\n'),
      );
      expect(after.stderr).toBe('');
      // the package really carries install scripts; none of them, nor anything planted, ran
      expect(JSON.parse(after.stdout)).toEqual({
        markers: [],
        scripts: ['preinstall', 'install', 'postinstall'],
        evil: 'evilpkg@1.0.0',
        dep: 'plaindep@1.1.0',
        hostiledep: false,
      });
      expect(hostile.connections()).toBe(before);
      expect(registry.requests).toEqual(expect.arrayContaining(['/evilpkg', '/plaindep']));
    }, 180_000);

    it('keeps what the session installed before when it installs more, and reports the versions npm resolved', async () => {
      const { id } = await pod.open();
      const call = (packages: string[]): Promise<{ installed: Array<{ name: string; version: string }> }> =>
        h.client.call(
          pod.queue,
          PodJobDefs.packagesInstall,
          { sessionId: id, tenant: 'acme', packages },
          { timeoutMs: 120_000 },
        );
      expect((await call(['plaindep@1.0.0'])).installed).toEqual([{ name: 'plaindep', version: '1.0.0' }]);
      expect((await call(['evilpkg'])).installed).toEqual([{ name: 'evilpkg', version: '1.0.0' }]);
      const r = await pod.exec(id, 'console.log(require("plaindep"), require("evilpkg"))');
      expect(r.stdout).toBe('plaindep@1.0.0 evilpkg@1.0.0\n');
    }, 180_000);
  });

  describe('with installs offline (PACKAGES_NETWORK=false)', () => {
    let pod: PodDriver;
    let registry: NpmRegistry;
    beforeAll(async () => {
      registry = await startNpmRegistry([{ name: 'plaindep', version: '1.0.0' }]);
      pod = await PodDriver.start(h, 'node', {
        NPM_REGISTRY: registry.url,
        PACKAGES_NETWORK: 'false',
        WARM_KERNELS: '0',
      });
    });
    afterAll(async () => {
      await pod?.stop();
      await registry?.close();
    });

    it('reaches nothing, not even the index', async () => {
      const { id } = await pod.open();
      const err = await installError(
        h.client.call(
          pod.queue,
          PodJobDefs.packagesInstall,
          { sessionId: id, tenant: 'acme', packages: ['plaindep@1.0.0'] },
          { timeoutMs: 120_000 },
        ),
      );
      expect(err.message).toMatch(/npm install failed/);
      expect(registry.requests).toEqual([]);
    }, 180_000);
  });
});
