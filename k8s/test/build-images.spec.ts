import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEMPLATE_NAMES, templateImage } from '@executor/templates';
import { DEPLOYMENT_DIR, K8S_DIR } from './lib/paths';

const SCRIPT = join(DEPLOYMENT_DIR, 'build-images.sh');

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync('bash', [SCRIPT, ...args], {
    env: { ...process.env, DRY_RUN: '1', CA_CERTIFICATES: '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('build-images.sh', () => {
  it('builds every image, the executor base before the template images that use it, then Redis', () => {
    const res = run([], { REGISTRY: 'registry.local/exec', TAG: 'v9' });
    expect(res.status).toBe(0);
    const tags = res.stdout
      .trim()
      .split('\n')
      .map((l) => / -t (\S+)/.exec(l)?.[1]);
    expect(tags).toEqual([
      'registry.local/exec/executor-operator:v9',
      'registry.local/exec/executor-load-balancer:v9',
      'registry.local/exec/executor-persistence:v9',
      'registry.local/exec/executor-base:v9',
      ...TEMPLATE_NAMES.map((t) => templateImage(t, { registry: 'registry.local/exec', tag: 'v9' })),
      'registry.local/exec/executor-redis:v9',
      'registry.local/exec/executor-redis-exporter:v9',
    ]);
    expect(res.stdout).toContain(
      'docker build -f k8s/config/deployment/images/Dockerfile -t registry.local/exec/executor-python-data:v9 --build-arg TEMPLATE=python-data --build-arg EXECUTOR_IMAGE=registry.local/exec/executor-base:v9 .',
    );
  });

  it('builds a subset, pushes with PUSH=1 and passes PLATFORM', () => {
    const res = run(['operator', 'executor-go'], { PUSH: '1', PLATFORM: 'linux/arm64', DOCKER: 'podman' });
    expect(res.stdout.trim().split('\n')).toEqual([
      'podman build -f apps/operator/Dockerfile -t ghcr.io/executor-platform/executor-operator:0.1.0 --platform linux/arm64 .',
      'podman push ghcr.io/executor-platform/executor-operator:0.1.0',
      'podman build -f k8s/config/deployment/images/Dockerfile -t ghcr.io/executor-platform/executor-go:0.1.0 --platform linux/arm64 --build-arg TEMPLATE=go --build-arg EXECUTOR_IMAGE=ghcr.io/executor-platform/executor-base:0.1.0 .',
      'podman push ghcr.io/executor-platform/executor-go:0.1.0',
    ]);
  });

  it('builds with buildah (layers, docker format, network, CA secret, base images) and imports into containerd', () => {
    const res = run(['operator', 'redis', 'executor-node'], {
      DOCKER: 'buildah',
      NETWORK: 'host',
      CA_CERTIFICATES: '/etc/ca.pem',
      NODE_IMAGE: 'localhost/node:20',
      DEBIAN_IMAGE: 'localhost/debian:12',
      IMPORT: '1',
      CONTAINERD_NAMESPACE: 'k8s.io',
    });
    expect(res.status).toBe(0);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => l.replace(/(?<=[: ])\/\S*image\.\w+\.tar/g, '<tar>'));
    const secret = '--network host --secret id=ca-certificates,src=/etc/ca.pem';
    expect(lines).toEqual([
      `buildah bud --layers --format docker -f apps/operator/Dockerfile -t ghcr.io/executor-platform/executor-operator:0.1.0 ${secret} --build-arg NODE_IMAGE=localhost/node:20 .`,
      'buildah push -q ghcr.io/executor-platform/executor-operator:0.1.0 docker-archive:<tar>:ghcr.io/executor-platform/executor-operator:0.1.0',
      'ctr -n k8s.io images import <tar>',
      `buildah bud --layers --format docker -f k8s/config/deployment/images/redis.Dockerfile -t ghcr.io/executor-platform/executor-redis:0.1.0 ${secret} --build-arg DEBIAN_IMAGE=localhost/debian:12 .`,
      'buildah push -q ghcr.io/executor-platform/executor-redis:0.1.0 docker-archive:<tar>:ghcr.io/executor-platform/executor-redis:0.1.0',
      'ctr -n k8s.io images import <tar>',
      `buildah bud --layers --format docker -f k8s/config/deployment/images/Dockerfile -t ghcr.io/executor-platform/executor-node:0.1.0 ${secret} --build-arg TEMPLATE=node --build-arg EXECUTOR_IMAGE=ghcr.io/executor-platform/executor-base:0.1.0 --build-arg NODE_IMAGE=localhost/node:20 .`,
      'buildah push -q ghcr.io/executor-platform/executor-node:0.1.0 docker-archive:<tar>:ghcr.io/executor-platform/executor-node:0.1.0',
      'ctr -n k8s.io images import <tar>',
    ]);
  });

  it('honours NODE_EXTRA_CA_CERTS as the default CA bundle of the builds', () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      DRY_RUN: '1',
      NODE_EXTRA_CA_CERTS: '/x/ca.crt',
    };
    delete env['CA_CERTIFICATES'];
    const res = spawnSync('bash', [SCRIPT, 'persistence'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(res.stdout).toContain('--secret id=ca-certificates,src=/x/ca.crt');
  });

  it.each([
    [['executor-cobol'], {}, 'usage:'],
    [[], { DOCKER: 'kaniko' }, "unknown DOCKER 'kaniko'"],
    [['frontend'], {}, 'usage:'],
    [[], { REGISTRY: 'Registry/' }, "invalid REGISTRY 'Registry/'"],
    [[], { TAG: 'bad tag' }, "invalid TAG 'bad tag'"],
  ])('refuses %j %j', (args, env, message) => {
    const res = run(args, env);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(message);
  });

  it('has an Nx target per image in k8s/project.json', () => {
    const targets = (
      JSON.parse(readFileSync(join(K8S_DIR, 'project.json'), 'utf8')) as {
        targets: Record<string, { options: { command: string }; dependsOn?: string[] }>;
      }
    ).targets;
    for (const image of [
      'operator',
      'load-balancer',
      'persistence',
      'executor',
      ...TEMPLATE_NAMES.map((t) => `executor-${t}`),
    ]) {
      expect(targets[`docker-build-${image}`]?.options.command).toBe(
        `bash k8s/config/deployment/build-images.sh ${image}`,
      );
    }
    expect(targets['docker-build-executor-python']?.dependsOn).toEqual(['docker-build-executor']);
  });
});
