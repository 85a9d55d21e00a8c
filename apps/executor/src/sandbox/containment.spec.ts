import { assessContainment, type ContainmentFacts } from './containment';

const cgroups = (ok: boolean): ContainmentFacts['cgroups'] => ({
  version: ok ? 'v1' : 'none',
  pids: ok,
  memory: ok,
  cpu: ok,
  roots: [],
  reason: ok ? 'cgroup v1' : 'no writable cgroup',
});
const seccomp: ContainmentFacts['seccomp'] = {
  path: '/x',
  summary: {
    arch: 'x86_64',
    allowed: 280,
    conditional: 10,
    errno: 1,
    enosysNumbers: 100,
    skipped: [],
    bytes: 4000,
  },
};
const base: ContainmentFacts = {
  mode: 'bwrap',
  executorUid: 0,
  uidBase: 40000,
  cgroups: cgroups(true),
  tmpfs: { enabled: true, maxBytes: 1, maxFiles: 1 },
  seccomp,
  network: false,
};

describe('assessContainment', () => {
  it('root executor with everything in place: ready, distinct uids, no warnings', () => {
    const r = assessContainment(base);
    expect(r).toMatchObject({
      ready: true,
      uids: { mode: 'distinct', base: 40000 },
      seccomp: { enabled: true, rules: 291 },
    });
    expect(r.reason).toBeUndefined();
    expect(r.warnings).toEqual([]);
  });

  it('refuses sessions without seccomp, bwrap, pids/memory cgroups or (root) the slot tmpfs, naming each reason', () => {
    const r = assessContainment({
      ...base,
      seccomp: undefined,
      seccompError: "No module named 'seccomp'",
      bwrapError: 'user namespaces disabled',
      cgroups: cgroups(false),
      tmpfs: { enabled: false, maxBytes: 1, maxFiles: 1, error: 'mount: permission denied' },
    });
    expect(r.ready).toBe(false);
    expect(r.reason).toMatch(/bwrap cannot build the sandbox: user namespaces disabled/);
    expect(r.reason).toMatch(/no seccomp filter: No module named 'seccomp'/);
    expect(r.reason).toMatch(/no per-session pids\/memory cgroup/);
    expect(r.reason).toMatch(/cannot mount the per-slot tmpfs: mount: permission denied/);
  });

  it('non-root executor: needs a delegated cgroup; ready with it, with warnings for what it cannot do', () => {
    const without = assessContainment({
      ...base,
      executorUid: 10001,
      uidBase: undefined,
      cgroups: cgroups(false),
      tmpfs: { enabled: false, maxBytes: 1, maxFiles: 1, error: 'not root' },
    });
    expect(without.ready).toBe(false);
    expect(without.reason).toMatch(/non-root executor needs its own cgroup delegated/);
    const withCg = assessContainment({
      ...base,
      executorUid: 10001,
      uidBase: undefined,
      tmpfs: { enabled: false, maxBytes: 1, maxFiles: 1, error: 'not root' },
    });
    expect(withCg).toMatchObject({ ready: true, uids: { mode: 'shared' }, tmpfs: { enabled: false } });
    expect(withCg.warnings.join('\n')).toMatch(/share the executor uid/);
    expect(withCg.warnings.join('\n')).toMatch(/no per-slot tmpfs/);
  });

  it('warns when the workspace quota is not below the memory limit', () => {
    const r = assessContainment({
      ...base,
      tmpfs: { enabled: true, maxBytes: 600, maxFiles: 1 },
      memoryBytes: 512,
    });
    expect(r.ready).toBe(true);
    expect(r.warnings.join('\n')).toMatch(/WORKSPACE_MAX_BYTES \(600\) is not below MEMORY_LIMIT_MB/);
  });

  it('SANDBOX=none is ready but says what it gives up', () => {
    const r = assessContainment({ ...base, mode: 'none', seccomp: undefined });
    expect(r).toMatchObject({
      ready: true,
      seccomp: { enabled: false, reason: 'SANDBOX=none' },
      userNamespacesDisabled: false,
    });
    expect(r.warnings[0]).toMatch(/SANDBOX=none/);
  });
});
