import { listTemplates, templateImageName, type Template } from './templates';

/** Where the generated table lives (repository-relative); the template image's Dockerfile reads it. */
export const IMAGE_TABLE_FILE = 'k8s/config/deployment/images/templates.tsv';

/**
 * Debian packages the executor base image already provides (Node.js 20 with npm comes from its
 * NODE_IMAGE: bookworm's own nodejs is 18), so template images never install them from Debian.
 */
export const PROVIDED_BY_BASE_IMAGE: readonly string[] = ['nodejs', 'npm'];

/** What one template image installs on top of the executor base image. */
export interface TemplateImagePackages {
  readonly template: string;
  /** Image repository name (`executor-<template>`; libs/templates `templateImageName`). */
  readonly image: string;
  /** apt packages (Debian bookworm). */
  readonly debian: readonly string[];
  /** `npm install --global` specs, pinned to the repository's versions (`typescript@5.9.3`). */
  readonly npmGlobal: readonly string[];
}

/**
 * The packages of each template image, from libs/templates: its `debianPackages` minus what the
 * base image provides, and npm globals at the version the repository itself pins (`versions`: the
 * root package.json's dependencies + devDependencies): the `preinstalledPackages` of templates whose
 * package manager is npm, and `typescript` for every template with a typescript kernel (the kernel
 * transpiles with it). Throws when such a package has no exact version there.
 */
export function templateImagePackages(
  versions: Readonly<Record<string, string>>,
  templates: readonly Template[] = listTemplates(),
): TemplateImagePackages[] {
  return templates.map((t) => {
    const npm = new Set(t.packageManager === 'npm' ? t.preinstalledPackages : []);
    if (t.kernels.includes('typescript')) npm.add('typescript');
    return {
      template: t.name,
      image: templateImageName(t.name),
      debian: t.debianPackages.filter((p) => !PROVIDED_BY_BASE_IMAGE.includes(p)),
      npmGlobal: [...npm].map((p) => {
        const v = versions[p];
        if (!v || !/^\d+\.\d+\.\d+$/.test(v))
          throw new Error(
            `template ${t.name}: preinstalled npm package ${p} has no exact version in the root package.json`,
          );
        return `${p}@${v}`;
      }),
    };
  });
}

/**
 * The table k8s/config/deployment/images/Dockerfile reads (`TEMPLATE` → packages): one line per
 * template, tab-separated `template`, image name, Debian packages, npm globals (space-separated,
 * `-` for none).
 */
export function renderImageTable(rows: readonly TemplateImagePackages[]): string {
  const field = (xs: readonly string[]): string => (xs.length ? xs.join(' ') : '-');
  return [
    '# Generated from libs/templates by `npx nx run templates:generate` (never edit by hand).',
    '# template<TAB>image<TAB>debian packages<TAB>npm --global packages; read by images/Dockerfile and build-images.sh',
    ...rows.map((r) => [r.template, r.image, field(r.debian), field(r.npmGlobal)].join('\t')),
    '',
  ].join('\n');
}
