import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox, type Slot } from './sandbox';
import { etcEntries, writeGeneratedEtc } from './sandbox-etc';
import { compileSeccomp } from './seccomp';

describe('the /etc of the sandbox', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes only allowlisted entries (globs, sub-paths, symlinks kept as symlinks)', () => {
    for (const f of ['shadow', 'passwd', 'ld.so.cache', 'machine-id']) writeFileSync(join(dir, f), 'x');
    mkdirSync(join(dir, 'java-17-openjdk'));
    mkdirSync(join(dir, 'ssl/certs'), { recursive: true });
    mkdirSync(join(dir, 'ssl/private'));
    symlinkSync('/usr/share/zoneinfo/Etc/UTC', join(dir, 'localtime'));
    expect(etcEntries(dir)).toEqual([
      { kind: 'bind', src: join(dir, 'java-17-openjdk'), dest: '/etc/java-17-openjdk' },
      { kind: 'bind', src: join(dir, 'ssl/certs'), dest: '/etc/ssl/certs' },
      { kind: 'bind', src: join(dir, 'ld.so.cache'), dest: '/etc/ld.so.cache' },
      { kind: 'symlink', target: '/usr/share/zoneinfo/Etc/UTC', dest: '/etc/localtime' },
    ]);
  });

  it('generates passwd/group/hosts with the sandbox user, and resolv.conf with and without network', () => {
    writeGeneratedEtc(dir);
    expect(readFileSync(join(dir, 'passwd'), 'utf8')).toContain(
      'user:x:1000:1000:user:/home/user:/bin/bash\n',
    );
    expect(readFileSync(join(dir, 'group'), 'utf8')).toContain('user:x:1000:\n');
    expect(readFileSync(join(dir, 'hostname'), 'utf8')).toBe('sandbox\n');
    expect(readFileSync(join(dir, 'resolv.conf'), 'utf8')).not.toMatch(/nameserver/);
    expect(readFileSync(join(dir, 'resolv.conf.net'), 'utf8')).toMatch(/nameserver/);
  });
});

describe('seccomp policy', () => {
  it('compiles with libseccomp (python3-seccomp) into a BPF program', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seccomp-'));
    try {
      const f = compileSeccomp(join(dir, 'f.bpf'));
      expect(f.summary.allowed).toBeGreaterThan(250);
      expect(f.summary.conditional).toBe(10); // clone, 5 personalities, 4 socket families
      expect(f.summary.bytes % 8).toBe(0); // struct sock_filter
      expect(readFileSync(f.path).length).toBe(f.summary.bytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Sandbox.spec (the spawn API)', () => {
  const slot: Slot = {
    index: 3,
    uid: 40003,
    gid: 40003,
    dir: '/w/slot-3',
    work: '/w/slot-3/work',
    tmp: '/w/slot-3/tmp',
    tmpfs: true,
  };
  const sandbox = new Sandbox({
    mode: 'bwrap',
    kernelsDir: '/k',
    maxProcesses: 64,
    maxFileBytes: 1000,
    memoryBytes: 2000,
    distinctUids: true,
    seccompPath: '/rt/seccomp.bpf',
    etc: [],
    generatedEtcDir: '/rt/etc',
  });

  it('wraps: join cgroup as the executor, setpriv to the slot uid, prlimit, bwrap with seccomp on fd 9', () => {
    const s = sandbox.spec(
      { ...slot, cgroup: { procsFiles: ['/cg/a', '/cg/b'], memory: true } as never },
      { argv: ['/usr/bin/python3', '-c', 'pass'], env: { A: '1' }, network: false, addressSpaceLimit: true },
    );
    expect(s.command).toBe('/bin/sh');
    expect(s.uid).toBeUndefined();
    expect(s.env).toEqual({ A: '1', EXECUTOR_CG: '/cg/a /cg/b' });
    expect(s.files).toEqual([{ fd: 9, path: '/rt/seccomp.bpf' }]);
    const argv = s.args.slice(3);
    expect(argv.slice(0, 8)).toEqual([
      '/usr/bin/setpriv',
      '--reuid=40003',
      '--regid=40003',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    ]);
    expect(argv.slice(8, 14)).toEqual([
      '/usr/bin/prlimit',
      '--fsize=1000',
      '--core=0',
      '--nproc=64',
      '--',
      '/usr/bin/bwrap',
    ]); // no --as: memory cgroup
    const bw = argv.join(' ');
    for (const a of [
      '--unshare-all --unshare-user --uid 1000 --gid 1000 --disable-userns',
      '--seccomp 9',
      '--bind /w/slot-3/work /home/user',
      '--bind /w/slot-3/tmp /tmp',
      '--remount-ro /dev --remount-ro /',
      '--ro-bind /rt/etc/resolv.conf /etc/resolv.conf',
      '-- /usr/bin/python3 -c pass',
    ])
      expect(bw).toContain(a);
    expect(bw).not.toContain('--share-net');
    expect(sandbox.baseEnv(slot)).toMatchObject({
      HOME: '/home/user',
      TMPDIR: '/tmp',
      XDG_CACHE_HOME: '/tmp/.cache',
      USER: 'user',
    });
  });

  it('network: true shares the network namespace and gets the host nameservers', () => {
    const s = sandbox.spec(slot, { argv: ['x'], env: {}, network: true, addressSpaceLimit: false });
    const bw = s.args.join(' ');
    expect(bw).toContain('--share-net');
    expect(bw).toContain('--ro-bind /rt/etc/resolv.conf.net /etc/resolv.conf');
  });
});
