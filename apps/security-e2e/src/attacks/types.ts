import type { AttackContext } from '../driver/context';

/** The invariants of issue 13 that the suite attacks. */
export const INVARIANTS = {
  1: 'files',
  2: 'network',
  3: 'kernel surface',
  4: 'limits',
  5: 'tenancy and roles',
  6: 'least privilege',
  7: 'abuse',
} as const;
export type Invariant = keyof typeof INVARIANTS;

export interface Attack {
  /** `<invariant>-<area>/<what>`, e.g. `1-files/host-shadow`. */
  name: string;
  invariant: Invariant;
  /** Needs the local section (host canaries, host processes, Redis credentials). */
  local?: boolean;
  timeoutMs?: number;
  /** Runs the attack; resolves with what contained it, throws Breach or InvalidProbe otherwise. */
  run(ctx: AttackContext): Promise<string>;
}

export function attack(
  invariant: Invariant,
  what: string,
  run: Attack['run'],
  opts: { local?: boolean; timeoutMs?: number } = {},
): Attack {
  return { name: `${invariant}-${INVARIANTS[invariant].split(' ')[0]}/${what}`, invariant, run, ...opts };
}
