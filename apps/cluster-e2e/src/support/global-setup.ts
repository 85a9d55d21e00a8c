import { deployPlatform } from './platform';

/** A fresh platform on the cluster tools/kcluster/up.sh brought up (images: scripts/images.sh). */
export default async function globalSetup(): Promise<void> {
  await deployPlatform();
}
