import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_IMAGE_REGISTRY,
  DEFAULT_IMAGE_TAG,
  PROVIDED_BY_BASE_IMAGE,
  TEMPLATE_NAMES,
  getTemplate,
  renderImageTable,
  templateImagePackages,
} from '@executor/templates';
import { type Finding, isPinned, lintDockerfile, parseDockerfile, stagesOf } from './lib/dockerfile';
import { APP_DOCKERFILES, DEPLOYMENT_DIR, REPO_ROOT, TEMPLATE_DOCKERFILE } from './lib/paths';

const APP_PORTS = { executor: 8081, 'load-balancer': 8080, persistence: 8082, operator: 8083 } as const;
/** The pools' pod runAsUser (the operator's EXECUTOR_UID) and the platform pods' runAsUser (k8s/config/deployment). */
const EXECUTOR_UID = '10001';
const PLATFORM_UID = '1000';
/** Node.js packages come from the executor base image (NODE_IMAGE), not from Debian. */
const FROM_BASE_IMAGE = new Set(PROVIDED_BY_BASE_IMAGE);
/** The Node.js the images default to: the one CI runs the tests with (20 LTS), pinned to a patch version. */
const NODE_IMAGE = /^node:20\.\d+\.\d+-bookworm-slim$/;

const read = (path: string): string => readFileSync(path, 'utf8');
const rules = (findings: Finding[]): string[] => findings.map((f) => f.rule).sort();

describe('app Dockerfiles', () => {
  describe.each(Object.entries(APP_DOCKERFILES))('%s', (app, path) => {
    const text = read(path);
    const { stages } = stagesOf(parseDockerfile(text));
    const runtime = stages[stages.length - 1];
    const build = stages.find((s) => s.alias === 'build');

    it('passes the lint rules (multi-stage, pinned, non-root, HEALTHCHECK, exec form, no ADD)', () => {
      expect(lintDockerfile(text, { requireMultiStage: true })).toEqual([]);
    });

    it('builds on the Node.js CI tests (20 LTS), Debian bookworm slim, pinned to a patch version', () => {
      for (const stage of stages) expect(stage.resolvedFrom).toMatch(NODE_IMAGE);
    });

    it('runs npm ci (npm cache mount, optional CA secret) and nx build of the app in the build stage', () => {
      const runs = build?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args) ?? [];
      const install = runs.find((r) => r.endsWith('npm ci --no-audit --no-fund'));
      expect(install).toMatch(/^--mount=type=cache,target=\/root\/\.npm,sharing=locked /);
      expect(install).toContain('--mount=type=secret,id=ca-certificates,required=false');
      const nx = runs.find((r) => r.startsWith('npx nx run-many -t build -p '));
      expect(nx?.split(' ')).toEqual(expect.arrayContaining([app, '--configuration=production']));
    });

    it('has the same build stage as every other app (one workspace install and build for all images)', () => {
      const steps = (s: typeof build): string[] =>
        (s?.instructions ?? []).map((i) => `${i.keyword} ${i.args}`);
      for (const other of Object.values(APP_DOCKERFILES)) {
        const theirs = stagesOf(parseDockerfile(read(other))).stages.find((s) => s.alias === 'build');
        expect(steps(build)).toEqual(steps(theirs));
      }
      expect(steps(build).join('\n')).toMatch(
        /npx nx run-many -t build -p executor load-balancer persistence operator/,
      );
    });

    it('copies only dist/apps/<app> into the runtime stage and installs production dependencies', () => {
      const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
      expect(copies.filter((c) => c.startsWith('--from='))).toEqual([
        `--from=build /src/dist/apps/${app}/ ./`,
      ]);
      expect(copies.filter((c) => !c.startsWith('--from='))).toEqual(
        app === 'executor' ? ['apps/executor/debian-packages.txt /tmp/debian-packages.txt'] : [],
      );
      const runs = runtime.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
      expect(runs.some((r) => r.endsWith('npm ci --omit=dev --no-audit --no-fund'))).toBe(true);
    });

    it('exposes the app port, sets PORT and runs as the uid its pods use', () => {
      const port = String(APP_PORTS[app as keyof typeof APP_PORTS]);
      expect(runtime.instructions.find((i) => i.keyword === 'EXPOSE')?.args).toBe(port);
      expect(runtime.instructions.some((i) => i.keyword === 'ENV' && i.args.includes(`PORT=${port}`))).toBe(
        true,
      );
      const user = runtime.instructions.filter((i) => i.keyword === 'USER').pop()?.args;
      expect(user).toBe(
        app === 'executor' ? `${EXECUTOR_UID}:${EXECUTOR_UID}` : `${PLATFORM_UID}:${PLATFORM_UID}`,
      );
    });
  });

  it('is also reachable under the names of the feature summary (k8s/config/deployment/Dockerfile.operator, .loadbalancer)', () => {
    expect(realpathSync(join(DEPLOYMENT_DIR, 'Dockerfile.operator'))).toBe(
      realpathSync(APP_DOCKERFILES.operator),
    );
    expect(realpathSync(join(DEPLOYMENT_DIR, 'Dockerfile.loadbalancer'))).toBe(
      realpathSync(APP_DOCKERFILES['load-balancer']),
    );
  });

  it('the executor base image installs the one package list of the executor (sandbox tools included)', () => {
    const list = read(join(REPO_ROOT, 'apps/executor/debian-packages.txt'))
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean);
    expect(list).toEqual(
      expect.arrayContaining(['bubblewrap', 'tini', 'python3-seccomp', 'util-linux', 'procps']),
    );
    for (const p of list) expect(p).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
    expect(read(APP_DOCKERFILES.executor)).toMatch(
      /sed -e 's\/#\.\*\/\/' \/tmp\/debian-packages\.txt \| xargs apt-get install -y --no-install-recommends/,
    );
  });
});

describe.each([
  ['redis', 'redis-server'],
  ['redis-exporter', 'prometheus-redis-exporter'],
])('%s image (k8s/config/deployment/images/%s.Dockerfile)', (name, pkg) => {
  const text = read(join(DEPLOYMENT_DIR, `images/${name}.Dockerfile`));

  it('passes the lint rules (probes cover health) and builds on Debian bookworm', () => {
    expect(lintDockerfile(text, { requireMultiStage: false, healthFromProbes: true })).toEqual([]);
    expect(stagesOf(parseDockerfile(text)).stages.map((s) => s.resolvedFrom)).toEqual([
      'debian:bookworm-slim',
    ]);
  });

  it(`installs ${pkg} from Debian`, () => {
    expect(text).toMatch(new RegExp(`apt-get install -y --no-install-recommends [^\\n]*\\b${pkg}\\b`));
  });
});

describe('per-template executor image (k8s/config/deployment/images/Dockerfile)', () => {
  const text = read(TEMPLATE_DOCKERFILE);
  const tableText = read(join(DEPLOYMENT_DIR, 'images/templates.tsv'));
  /** TEMPLATE → [debian packages, npm globals], from the generated table the Dockerfile reads. */
  const table = new Map(
    tableText
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split('\t'))
      .map(([t, , debian, npm]) => [t, [debian, npm].map((f) => (f === '-' ? [] : f.split(' ')))] as const),
  );
  const repoPkg = JSON.parse(read(join(REPO_ROOT, 'package.json'))) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };

  it('passes the lint rules (health comes from the base image and the pool pods probes)', () => {
    expect(lintDockerfile(text, { requireMultiStage: false, healthFromProbes: true })).toEqual([]);
  });

  it('installs the runtimes on the Node image, then takes the executor app from the executor base image of the default registry and tag', () => {
    const { stages } = stagesOf(parseDockerfile(text));
    expect(stages.map((s) => s.resolvedFrom)).toEqual([
      `${DEFAULT_IMAGE_REGISTRY}/executor-base:${DEFAULT_IMAGE_TAG}`,
      expect.stringMatching(NODE_IMAGE),
    ]);
    const last = stages[1].instructions.map((i) => `${i.keyword} ${i.args}`);
    expect(last).toContain('COPY --from=executor /app/ ./');
    // the apt layer comes before anything of the executor: it is reused while the package lists stay
    expect(last.findIndex((l) => l.startsWith('RUN '))).toBeLessThan(
      last.indexOf('COPY --from=executor /app/ ./'),
    );
    expect(text).toContain(
      'sed -e \'s/#.*//\' /tmp/debian-packages.txt; echo "${debian}"; } | xargs apt-get install',
    );
  });

  it('runs like the executor base image (same environment, user, port, health check, entrypoint)', () => {
    const config = (t: string): string[] => {
      const { stages } = stagesOf(parseDockerfile(t));
      return stages[stages.length - 1].instructions
        .filter((i) =>
          ['ENV', 'USER', 'EXPOSE', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD', 'WORKDIR'].includes(i.keyword),
        )
        .filter((i) => !(i.keyword === 'ENV' && i.args.startsWith('TEMPLATE=')))
        .map((i) => `${i.keyword} ${i.args}`);
    };
    expect(config(text)).toEqual(config(read(APP_DOCKERFILES.executor)));
  });

  it('reads templates.tsv, which is what libs/templates generates (npx nx run templates:generate)', () => {
    expect(text).toContain(
      'COPY apps/executor/debian-packages.txt k8s/config/deployment/images/templates.tsv /tmp/',
    );
    expect(tableText).toBe(
      renderImageTable(templateImagePackages({ ...repoPkg.devDependencies, ...repoPkg.dependencies })),
    );
  });

  it('installs exactly the Debian packages libs/templates lists for each template', () => {
    expect([...table.keys()].sort()).toEqual([...TEMPLATE_NAMES].sort());
    for (const name of TEMPLATE_NAMES) {
      const expected = getTemplate(name).debianPackages.filter((p) => !FROM_BASE_IMAGE.has(p));
      expect({ name, packages: [...(table.get(name)?.[0] ?? [])].sort() }).toEqual({
        name,
        packages: [...expected].sort(),
      });
    }
  });

  it('preinstalls the templates preinstalled packages (python-data from Debian, typescript from npm at the repo version)', () => {
    for (const p of getTemplate('python-data').preinstalledPackages)
      expect(table.get('python-data')?.[0]).toContain(`python3-${p}`);
    const repoTs = repoPkg.dependencies?.['typescript'] ?? repoPkg.devDependencies?.['typescript'];
    expect(repoTs).toMatch(/^\d+\.\d+\.\d+$/);
    expect(getTemplate('typescript').preinstalledPackages).toEqual(['typescript']);
    expect(table.get('typescript')?.[1]).toEqual([`typescript@${repoTs}`]);
    expect(text).toContain('npm install --global --no-audit --no-fund ${npm_global}');
  });

  it('refuses an npm-preinstalled package the repository does not pin', () => {
    expect(() => templateImagePackages({})).toThrow(/typescript has no exact version/);
  });

  it('fails the build for an unknown TEMPLATE', () => {
    expect(text).toMatch(/echo "unknown TEMPLATE '\$\{TEMPLATE\}'/);
  });
});

describe('Dockerfile lint rules (they can fail)', () => {
  it('flags an unpinned base, root user, ADD of a URL, shell-form CMD, careless apt-get and a missing HEALTHCHECK', () => {
    const bad = [
      'FROM node:latest',
      'ADD https://example.com/x.tgz /x.tgz',
      'RUN apt-get install curl',
      'RUN curl -fsSL https://example.com/install.sh | sh',
      'USER root',
      'CMD node main.js',
    ].join('\n');
    expect(rules(lintDockerfile(bad, { requireMultiStage: true }))).toEqual(
      [
        'DF001',
        'DF002',
        'DF003',
        'DF004',
        'DF005',
        'DF005',
        'DF005',
        'DF005',
        'DF006',
        'DF007',
        'DF008',
        'DF009',
      ].sort(),
    );
  });

  it('resolves ARG defaults in FROM, accepts digests and stage aliases', () => {
    const ok = [
      'ARG BASE=debian:bookworm-20250101-slim',
      'FROM ${BASE} AS build',
      'RUN true',
      'FROM build',
      'COPY --from=build /a /a',
      'USER 1000',
      'HEALTHCHECK CMD ["true"]',
      'CMD ["true"]',
    ].join('\n');
    expect(lintDockerfile(ok, { requireMultiStage: true })).toEqual([]);
    expect(isPinned('node@sha256:' + 'a'.repeat(64))).toBe(true);
    expect(isPinned('localhost:5000/node')).toBe(false);
    expect(isPinned('${UNRESOLVED}')).toBe(false);
  });

  it('joins continuation lines, skips comments inside them, and rejects unknown instructions', () => {
    const ins = parseDockerfile('FROM a:1\nRUN echo a \\\n  # comment\n  && echo b\n');
    expect(ins.map((i) => [i.keyword, i.args, i.line])).toEqual([
      ['FROM', 'a:1', 1],
      ['RUN', 'echo a  && echo b', 2],
    ]);
    expect(() => parseDockerfile('FROM a:1\nRUNN x\n')).toThrow('line 2: unknown instruction RUNN');
    expect(() => parseDockerfile('FROM a:1\nRUN x \\')).toThrow('continuation');
  });
});
