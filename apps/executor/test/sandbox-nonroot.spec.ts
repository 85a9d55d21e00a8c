import { startHarness } from './harness';
import { ATTACK_LIMITS, NONROOT_VOLUME, defineAttackSuite } from './attacks/attack-suite';
import { NONROOT_UID, startBundlePod } from './attacks/bundle-executor';

// The executor as an unprivileged uid (SANDBOX=bwrap): the built bundle in a child process, in a cgroup
// subtree delegated to its uid (chown, as systemd Delegate=yes or a node agent would), its WORKSPACE_ROOT
// on a bounded volume (a tmpfs the test mounts, like a sized emptyDir). Sessions share the executor's uid
// outside their user namespace; no per-slot tmpfs (the volume bounds all sessions together).
defineAttackSuite({
  name: 'non-root executor',
  nonRoot: true,
  harness: startHarness,
  start: (h, template, env) =>
    startBundlePod(
      h,
      template,
      { SANDBOX: 'bwrap', ...ATTACK_LIMITS },
      { uid: NONROOT_UID, env, volumeBytes: NONROOT_VOLUME.bytes, volumeInodes: NONROOT_VOLUME.inodes },
    ),
});
