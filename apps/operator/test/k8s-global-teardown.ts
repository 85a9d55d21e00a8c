import { RUN_DIR_ENV, attachKubeApiServer } from './kube-server';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[RUN_DIR_ENV];
  if (dir) await attachKubeApiServer(dir).stop();
}
