import { RUN_DIR_ENV, startKubeApiServer } from './kube-server';

/** One control plane for the whole k8s suite (started in ~5 s from the cache). */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const server = await startKubeApiServer();
  process.env[RUN_DIR_ENV] = server.runDir;
  process.stdout.write(
    `\nkube-apiserver ${server.server} ready in ${Date.now() - started} ms (${server.runDir})\n`,
  );
}
