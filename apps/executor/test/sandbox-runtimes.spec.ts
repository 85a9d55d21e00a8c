import { PodDriver, startHarness, type Harness } from './harness';

/**
 * Each template's runtime still does the ordinary things inside the sandbox (reduced /etc, seccomp,
 * uid 1000, no network): TLS trust store, user and time zone lookups, threads, child processes,
 * multiprocessing, files in the workspace, headless plots. Every program prints a last line `ok …`.
 */
const PROGRAMS: Record<string, { code: string; expect: RegExp }> = {
  python: {
    code: [
      'import ssl, getpass, os, mimetypes, socket, subprocess, threading, multiprocessing as mp, tempfile, locale, time',
      'ctx = ssl.create_default_context(); certs = ctx.cert_store_stats()["x509_ca"]',
      'q = mp.Queue(); p = mp.Process(target=q.put, args=(41,)); p.start(); v = q.get() + 1; p.join()',
      't = threading.Thread(target=lambda: None); t.start(); t.join()',
      'out = subprocess.run(["ls", "/home/user"], capture_output=True, text=True).returncode',
      'with tempfile.NamedTemporaryFile() as f: tmp = f.name.startswith("/tmp/")',
      'open("f.txt", "w").write("x")',
      'print("ok", certs > 10, getpass.getuser(), os.getcwd(), os.environ["HOME"], v, out, tmp, mimetypes.guess_type("a.csv")[0], socket.getservbyname("https"), time.tzname[0] != "")',
    ].join('\n'),
    expect: /^ok True user \/home\/user \/home\/user 42 0 True text\/csv 443 True$/m,
  },
  'python-data': {
    code: [
      'import numpy as np, pandas as pd, matplotlib',
      'matplotlib.use("Agg")',
      'import matplotlib.pyplot as plt',
      'df = pd.DataFrame({"x": np.arange(100), "y": np.random.default_rng(1).normal(size=100)})',
      'df.to_csv("d.csv"); back = pd.read_csv("d.csv")',
      'fig, ax = plt.subplots(); ax.plot(df.x, df.y); ax.set_title("t"); fig.savefig("plot.png")',
      'm = np.linalg.inv(np.eye(200) * 2).trace()',
      'import os',
      'print("ok", len(back), os.path.getsize("plot.png") > 1000, m)',
    ].join('\n'),
    expect: /^ok 100 True 100\.0$/m,
  },
  node: {
    code: [
      "const tls = require('tls'); const os = require('os'); const cp = require('child_process');",
      "const { Worker } = require('worker_threads'); const fs = require('fs');",
      "fs.writeFileSync('n.txt', 'x');",
      'const w = new Worker(\'require("worker_threads").parentPort.postMessage(6*7)\', { eval: true });',
      "const v = await new Promise((resolve) => w.once('message', resolve)); await w.terminate();",
      "console.log('ok', tls.rootCertificates.length > 10, os.userInfo().username, process.cwd(), os.homedir(), v, cp.execSync('id -u').toString().trim(), Intl.DateTimeFormat().resolvedOptions().timeZone.length > 0);",
    ].join('\n'),
    expect: /^ok true user \/home\/user \/home\/user 42 1000 true$/m,
  },
  typescript: {
    code: [
      "import * as os from 'os';",
      'const n: number = [1, 2, 3].reduce((a, b) => a + b, 0);',
      "console.log('ok', n, os.userInfo().username, process.cwd());",
    ].join('\n'),
    expect: /^ok 6 user \/home\/user$/m,
  },
  bash: {
    code: [
      'set -e',
      'echo hi > f.txt; sort f.txt >/dev/null; grep -q hi f.txt; sed s/h/H/ f.txt >/dev/null; awk 1 f.txt >/dev/null',
      'ps -e >/dev/null; date +%Y >/dev/null; (sleep 0.01 &); wait',
      'echo ok $(id -un) $(hostname) $(pwd) $HOME $(ls -d /tmp) $(cat /etc/hostname)',
    ].join('\n'),
    expect: /^ok user sandbox \/home\/user \/home\/user \/tmp sandbox$/m,
  },
  c: {
    code: [
      '#include <stdio.h>',
      '#include <pthread.h>',
      '#include <unistd.h>',
      '#include <sys/wait.h>',
      '#include <math.h>',
      '#include <pwd.h>',
      'static void *work(void *a) { *(int *)a = 41; return 0; }',
      'int main(void) {',
      '  int v = 0; pthread_t t; pthread_create(&t, 0, work, &v); pthread_join(t, 0);',
      '  pid_t p = fork(); if (p == 0) _exit(3); int st; waitpid(p, &st, 0);',
      '  FILE *f = fopen("c.txt", "w"); fputs("x", f); fclose(f);',
      '  printf("ok %d %d %.3f %s\\n", v + 1, WEXITSTATUS(st), sqrt(2.0), getpwuid(getuid())->pw_name);',
      '}',
    ].join('\n'),
    expect: /^ok 42 3 1\.414 user$/m,
  },
  cpp: {
    code: [
      '#include <iostream>',
      '#include <thread>',
      '#include <vector>',
      '#include <fstream>',
      '#include <numeric>',
      'int main() {',
      '  std::vector<int> v(4); std::vector<std::thread> ts;',
      '  for (int i = 0; i < 4; i++) ts.emplace_back([&v, i] { v[i] = i + 1; });',
      '  for (auto &t : ts) t.join();',
      '  std::ofstream("cpp.txt") << "x";',
      '  std::cout << "ok " << std::accumulate(v.begin(), v.end(), 0) << std::endl;',
      '}',
    ].join('\n'),
    expect: /^ok 10$/m,
  },
  java: {
    code: [
      'import java.nio.file.*;',
      'public class Main {',
      '  public static void main(String[] a) throws Exception {',
      '    Thread t = new Thread(() -> {}); t.start(); t.join();',
      '    Files.writeString(Path.of("j.txt"), "x");',
      '    Process p = new ProcessBuilder("id", "-u").start(); String uid = new String(p.getInputStream().readAllBytes()).trim();',
      '    System.out.println("ok " + System.getProperty("user.name") + " " + System.getProperty("user.home") + " " + uid + " " + javax.net.ssl.SSLContext.getDefault().getProtocol() + " " + (java.time.ZoneId.systemDefault() != null) + " " + java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType()).getType());',
      '  }',
      '}',
    ].join('\n'),
    expect: /^ok user \/home\/user 1000 Default true pkcs12$/m,
  },
  rust: {
    code: [
      'use std::{fs, thread, process::Command};',
      'fn main() {',
      '    let h = thread::spawn(|| 41); let v = h.join().unwrap() + 1;',
      '    fs::write("r.txt", "x").unwrap();',
      '    let o = Command::new("id").arg("-un").output().unwrap();',
      '    println!("ok {} {}", v, String::from_utf8_lossy(&o.stdout).trim());',
      '}',
    ].join('\n'),
    expect: /^ok 42 user$/m,
  },
  go: {
    code: [
      'package main',
      'import ("fmt"; "os"; "os/user"; "os/exec"; "sync"; "net")',
      'func main() {',
      '  var wg sync.WaitGroup; n := 0; var mu sync.Mutex',
      '  for i := 0; i < 8; i++ { wg.Add(1); go func() { mu.Lock(); n++; mu.Unlock(); wg.Done() }() }',
      '  wg.Wait(); u, _ := user.Current(); os.WriteFile("g.txt", []byte("x"), 0o644)',
      '  out, _ := exec.Command("id", "-u").Output(); p, _ := net.LookupPort("tcp", "https")',
      '  wd, _ := os.Getwd()',
      '  fmt.Println("ok", n, u.Username, wd, string(out[:len(out)-1]), p)',
      '}',
    ].join('\n'),
    expect: /^ok 8 user \/home\/user 1000 443$/m,
  },
  ruby: {
    code: [
      "require 'etc'; require 'openssl'; require 'json'",
      't = Thread.new { 41 }; v = t.value + 1',
      "File.write('rb.txt', 'x')",
      'puts "ok #{v} #{Etc.getpwuid(Process.uid).name} #{Dir.pwd} #{`id -u`.strip} #{OpenSSL::X509::DEFAULT_CERT_FILE.start_with?(\'/usr/lib/ssl\')}"',
    ].join('\n'),
    expect: /^ok 42 user \/home\/user 1000 true$/m,
  },
  r: {
    code: [
      'x <- c(1, 2, 3, 4); fit <- lm(x ~ seq_along(x))',
      'writeLines("x", "r.txt")',
      'pdf("plot.pdf"); plot(x); invisible(dev.off())',
      'cat("ok", mean(x), Sys.info()[["user"]], getwd(), file.exists("plot.pdf"), system("id -u", intern = TRUE), "\\n")',
    ].join('\n'),
    expect: /^ok 2\.5 user \/home\/user TRUE 1000 $/m,
  },
};

describe('runtimes inside the sandbox (reduced /etc, seccomp, uid 1000)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it.each(Object.keys(PROGRAMS))(
    '%s',
    async (template) => {
      const prog = PROGRAMS[template] as (typeof PROGRAMS)[string];
      const pod = await PodDriver.start(h, template, { SANDBOX: 'bwrap', WARM_KERNELS: '0' });
      try {
        const { id } = await pod.open();
        const r = await pod.exec(id, prog.code, 90_000);
        expect({ exitCode: r.exitCode, out: r.stdout, err: r.stderr }).toEqual({
          exitCode: 0,
          out: expect.stringMatching(prog.expect),
          err: '',
        });
      } finally {
        await pod.stop();
      }
    },
    180_000,
  );
});
