import { PodDriver, startHarness } from './harness';
import { ATTACK_LIMITS, defineAttackSuite } from './attacks/attack-suite';

// The executor as root (the `npm start` default and the Kubernetes pods, D2): sessions get their own uid,
// a tmpfs per slot, cgroups nested under the executor's own cgroup. Real bwrap, real interpreters.
defineAttackSuite({
  name: 'root executor',
  nonRoot: false,
  harness: startHarness,
  async start(h, template, env) {
    Object.assign(process.env, env); // the executor is this process: its env holds the secret
    return PodDriver.start(h, template, { SANDBOX: 'bwrap', ...ATTACK_LIMITS });
  },
});
