import { abuseAttacks } from './abuse';
import { fileAttacks } from './files';
import { kernelAttacks } from './kernel';
import { limitAttacks } from './limits';
import { networkAttacks } from './network';
import { credentialScan, privilegeAttacks } from './privilege';
import { tenancyAttacks } from './tenancy';
import type { Attack } from './types';

/** Every attack in run order (abuse last: it exhausts limits; the credential scan at the very end). */
export const ALL_ATTACKS: Attack[] = [
  ...fileAttacks,
  ...networkAttacks,
  ...kernelAttacks,
  ...tenancyAttacks,
  ...privilegeAttacks,
  ...limitAttacks,
  ...abuseAttacks,
  credentialScan,
];
