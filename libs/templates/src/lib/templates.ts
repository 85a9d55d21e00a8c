/**
 * The 14 built-in templates of the platform: one executor image per template, the runtime that
 * runs a snippet in it, its stateful kernel (if any), package manager and default pod resources.
 *
 * This module is data only: no I/O, no environment reads. Apps decide the registry/tag (config)
 * and pass them to {@link templateImage}.
 */

/** Every built-in template name, in display order. Usable as an enum in TypeBox schemas. */
export const TEMPLATE_NAMES = [
  'python',
  'python-data',
  'node',
  'typescript',
  'bash',
  'c',
  'cpp',
  'java',
  'rust',
  'go',
  'ruby',
  'r',
  'code-interpreter-v1',
  'base',
] as const;

export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** The stateful kernels the executor implements. Templates without one run each snippet afresh. */
export const KERNEL_KINDS = ['python', 'node', 'typescript', 'bash'] as const;
export type KernelKind = (typeof KERNEL_KINDS)[number];

/** The language name of each kernel kind (what an execution's / a context's `language` says). */
export const KERNEL_LANGUAGES: Readonly<Record<KernelKind, string>> = {
  python: 'python',
  node: 'javascript',
  typescript: 'typescript',
  bash: 'bash',
};

export type PackageManager = 'pip' | 'npm';

/** Default registry of the executor images (`<registry>/executor-<template>:<tag>`). */
export const DEFAULT_IMAGE_REGISTRY = 'ghcr.io/executor-platform';
/** Default tag of the executor images (the platform version). */
export const DEFAULT_IMAGE_TAG = '0.1.0';
/** Image repository name prefix: `executor-python`, `executor-python-data`, … */
export const IMAGE_NAME_PREFIX = 'executor-';
/**
 * Templates whose `executor-<name>` would collide with another platform image: `executor-base` is
 * the executor app image every template image is built FROM, so the `base` template's image is
 * `executor-template-base`.
 */
const IMAGE_NAME_OVERRIDES: Readonly<Partial<Record<string, string>>> = { base: 'executor-template-base' };

/**
 * How to run one snippet as a fresh process (the only way for templates without a kernel; the
 * fallback for kernel templates). All commands are argv arrays executed with the session's workspace
 * as the working directory: the snippet is written to `sourceFile`, `compile` (if any) runs first and
 * must exit 0, then `run`.
 */
export interface RunSteps {
  /** File name (relative to the working directory) the snippet is written to. */
  readonly sourceFile: string;
  /** Compile step, run before `run`; a non-zero exit is reported as the execution's result. */
  readonly compile?: readonly string[];
  /** The command that runs the program. */
  readonly run: readonly string[];
  /** Extra environment for compile and run. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Environment variables the executor must point at a private writable directory (absolute path,
   * e.g. under the execution's tmp dir) because the toolchain writes caches there and `$HOME` may be
   * read-only. See {@link resolveRunEnv}.
   */
  readonly writableDirEnv?: readonly string[];
  /** Files the steps produce that are build artefacts, not user files (may be cleaned afterwards). */
  readonly artifacts?: readonly string[];
  /** Anything an implementer must know that the data above does not say. */
  readonly notes?: string;
}

/** Kubernetes resource quantities for one container. */
export interface ResourceList {
  /** CPU quantity, e.g. `500m`, `1`, `2`. */
  readonly cpu: string;
  /** Memory quantity, e.g. `512Mi`, `2Gi`. */
  readonly memory: string;
}

export interface TemplateResources {
  readonly requests: ResourceList;
  readonly limits: ResourceList;
}

export interface Template {
  readonly name: TemplateName;
  /** Human-readable name for UIs. */
  readonly displayName: string;
  /** Default image: `ghcr.io/executor-platform/executor-<name>:<DEFAULT_IMAGE_TAG>`. */
  readonly image: string;
  /** The language of snippets (the `language` of an execution request). */
  readonly language: string;
  /** File extension of source files, with the dot (`.py`). */
  readonly fileExtension: string;
  /** The stateful kernel that keeps variables between executions, or `null` (the default context's kernel). */
  readonly kernel: KernelKind | null;
  /**
   * Every kernel a session of this template can run as a context (the first is `kernel`); empty for
   * templates without a kernel. The image has the runtimes of all of them.
   */
  readonly kernels: readonly KernelKind[];
  /** One-shot execution steps (see {@link RunSteps}). */
  readonly run: RunSteps;
  /** Package manager for `POST /v1/sessions/{id}/packages`, or `null` if the template has none. */
  readonly packageManager: PackageManager | null;
  /** Packages of the language ecosystem that the image has preinstalled. */
  readonly preinstalledPackages: readonly string[];
  /** Default requests/limits of an executor pod of this template. */
  readonly defaultResources: TemplateResources;
  /** Debian bookworm apt packages that provide the runtime in the image. */
  readonly debianPackages: readonly string[];
  /** argv that prints the runtime version (to stdout or, for java and old R, stderr). */
  readonly versionCommand: readonly string[];
  /**
   * A tiny program every executor of this template runs at boot (through its kernel, in its real
   * sandbox) before it takes sessions; it must exit 0 and print exactly `smoke.stdout`.
   */
  readonly smoke: SmokeTest;
}

/** A snippet and the exact stdout it must print (see {@link Template.smoke}). */
export interface SmokeTest {
  readonly code: string;
  readonly stdout: string;
}

export interface TemplateImageOptions {
  /** Registry (and namespace) without trailing slash. Default {@link DEFAULT_IMAGE_REGISTRY}. */
  readonly registry?: string;
  /** Image tag. Default {@link DEFAULT_IMAGE_TAG}. */
  readonly tag?: string;
}

/** Thrown by {@link getTemplate} and {@link templateImage} for a name that is not a built-in template. */
export class UnknownTemplateError extends Error {
  override readonly name = 'UnknownTemplateError';
  constructor(readonly template: unknown) {
    super(`Unknown template ${JSON.stringify(template)}: valid templates are ${TEMPLATE_NAMES.join(', ')}`);
  }
}

const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY_PATTERN = /^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$/;

/** True if `name` is one of {@link TEMPLATE_NAMES}. */
export function isTemplateName(name: unknown): name is TemplateName {
  return typeof name === 'string' && (TEMPLATE_NAMES as readonly string[]).includes(name);
}

/**
 * The image reference of a template: `<registry>/executor-<name>:<tag>`.
 * @throws UnknownTemplateError for an unknown name; Error for a malformed registry or tag.
 */
export function templateImage(name: string, options: TemplateImageOptions = {}): string {
  if (!isTemplateName(name)) throw new UnknownTemplateError(name);
  const registry = options.registry ?? DEFAULT_IMAGE_REGISTRY;
  const tag = options.tag ?? DEFAULT_IMAGE_TAG;
  if (!REGISTRY_PATTERN.test(registry)) {
    throw new Error(
      `Invalid image registry ${JSON.stringify(registry)} (expected e.g. "ghcr.io/org", no trailing slash)`,
    );
  }
  if (!TAG_PATTERN.test(tag)) throw new Error(`Invalid image tag ${JSON.stringify(tag)}`);
  return `${registry}/${templateImageName(name)}:${tag}`;
}

/** The image repository name of a template: `executor-<name>` (`executor-template-base` for `base`). */
export function templateImageName(name: TemplateName): string {
  return IMAGE_NAME_OVERRIDES[name] ?? `${IMAGE_NAME_PREFIX}${name}`;
}

function res(reqCpu: string, reqMem: string, limCpu: string, limMem: string): TemplateResources {
  return { requests: { cpu: reqCpu, memory: reqMem }, limits: { cpu: limCpu, memory: limMem } };
}

type TemplateDef = Omit<Template, 'name' | 'image' | 'kernels'> & {
  readonly kernels?: readonly KernelKind[];
};

const PYTHON_DEBIAN = ['python3', 'python3-pip', 'python3-venv'] as const;
const NODE_NOTE =
  'Debian bookworm ships Node 18 (nodejs); the images may instead copy Node 20 from the official node image. ';

const DEFINITIONS: { readonly [K in TemplateName]: TemplateDef } = {
  python: {
    displayName: 'Python 3',
    language: 'python',
    fileExtension: '.py',
    kernel: 'python',
    run: { sourceFile: 'main.py', run: ['python3', '-u', 'main.py'] },
    packageManager: 'pip',
    preinstalledPackages: [],
    defaultResources: res('250m', '256Mi', '1', '512Mi'),
    debianPackages: PYTHON_DEBIAN,
    versionCommand: ['python3', '--version'],
    smoke: {
      code: 'import sys\nprint("smoke", sys.version_info[0] * 14)',
      stdout: 'smoke 42\n',
    },
  },
  'python-data': {
    displayName: 'Python 3 (data science)',
    language: 'python',
    fileExtension: '.py',
    kernel: 'python',
    run: {
      sourceFile: 'main.py',
      run: ['python3', '-u', 'main.py'],
      env: { MPLBACKEND: 'Agg' },
      writableDirEnv: ['MPLCONFIGDIR'],
      notes: 'matplotlib renders headless (Agg); figures are saved as files in the workspace.',
    },
    packageManager: 'pip',
    preinstalledPackages: ['numpy', 'pandas', 'matplotlib'],
    defaultResources: res('500m', '512Mi', '2', '2Gi'),
    debianPackages: [...PYTHON_DEBIAN, 'python3-numpy', 'python3-pandas', 'python3-matplotlib'],
    versionCommand: [
      'python3',
      '-c',
      'import sys, numpy, pandas, matplotlib; print(sys.version.split()[0], numpy.__version__, pandas.__version__, matplotlib.__version__)',
    ],
    smoke: {
      code: 'import numpy as np, pandas as pd, matplotlib\nimport matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot(np.arange(3))\nplt.close(fig)\nprint("smoke", int(np.arange(4).sum()), len(pd.DataFrame({"a": [1, 2]})), matplotlib.get_backend().lower())',
      stdout: 'smoke 6 2 agg\n',
    },
  },
  node: {
    displayName: 'Node.js',
    language: 'javascript',
    fileExtension: '.js',
    kernel: 'node',
    run: { sourceFile: 'main.js', run: ['node', 'main.js'], notes: NODE_NOTE },
    packageManager: 'npm',
    preinstalledPackages: [],
    defaultResources: res('250m', '256Mi', '1', '512Mi'),
    debianPackages: ['nodejs', 'npm'],
    versionCommand: ['node', '--version'],
    smoke: {
      code: 'console.log("smoke", [6, 7].reduce((a, b) => a * b))',
      stdout: 'smoke 42\n',
    },
  },
  typescript: {
    displayName: 'TypeScript',
    language: 'typescript',
    fileExtension: '.ts',
    kernel: 'typescript',
    run: {
      sourceFile: 'main.ts',
      compile: [
        'tsc',
        '--target',
        'es2022',
        '--module',
        'commonjs',
        '--isolatedModules',
        '--skipLibCheck',
        '--noResolve',
        '--noCheck',
        'main.ts',
      ],
      run: ['node', 'main.js'],
      artifacts: ['main.js'],
      notes:
        NODE_NOTE +
        'The kernel transpiles in-process with the `typescript` package (ts.transpileModule, no type check) and ' +
        'evaluates in a persistent node context; without the kernel, `tsc` (from that same package, TS >= 5.5 for ' +
        '--noCheck) emits main.js. Node 20 cannot run .ts directly (--experimental-strip-types needs Node 22.6+).',
    },
    packageManager: 'npm',
    preinstalledPackages: ['typescript'],
    defaultResources: res('250m', '384Mi', '1', '768Mi'),
    debianPackages: ['nodejs', 'npm'],
    versionCommand: ['tsc', '--version'],
    smoke: {
      code: 'const n: number = 6 * 7;\nconsole.log("smoke", n)',
      stdout: 'smoke 42\n',
    },
  },
  bash: {
    displayName: 'Bash',
    language: 'bash',
    fileExtension: '.sh',
    kernel: null,
    run: { sourceFile: 'main.sh', run: ['bash', 'main.sh'] },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('100m', '128Mi', '500m', '256Mi'),
    debianPackages: ['bash', 'coreutils'],
    versionCommand: ['bash', '--version'],
    smoke: {
      code: 'echo smoke $((6 * 7))',
      stdout: 'smoke 42\n',
    },
  },
  c: {
    displayName: 'C (gcc)',
    language: 'c',
    fileExtension: '.c',
    kernel: null,
    run: {
      sourceFile: 'main.c',
      compile: ['gcc', '-O1', '-std=gnu17', '-pipe', '-o', 'main', 'main.c', '-lm'],
      run: ['./main'],
      artifacts: ['main'],
    },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('250m', '256Mi', '1', '512Mi'),
    debianPackages: ['gcc', 'libc6-dev'],
    versionCommand: ['gcc', '--version'],
    smoke: {
      code: '#include <stdio.h>\n#include <math.h>\nint main(void) { printf("smoke %d\\n", (int)sqrt(1764.0)); return 0; }',
      stdout: 'smoke 42\n',
    },
  },
  cpp: {
    displayName: 'C++ (g++)',
    language: 'cpp',
    fileExtension: '.cpp',
    kernel: null,
    run: {
      sourceFile: 'main.cpp',
      compile: ['g++', '-O1', '-std=gnu++17', '-pipe', '-o', 'main', 'main.cpp', '-lm'],
      run: ['./main'],
      artifacts: ['main'],
    },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('250m', '384Mi', '1', '1Gi'),
    debianPackages: ['g++', 'libc6-dev'],
    versionCommand: ['g++', '--version'],
    smoke: {
      code: '#include <iostream>\n#include <vector>\nint main() { std::vector<int> v{6, 7}; std::cout << "smoke " << v[0] * v[1] << std::endl; }',
      stdout: 'smoke 42\n',
    },
  },
  java: {
    displayName: 'Java',
    language: 'java',
    fileExtension: '.java',
    kernel: null,
    run: {
      sourceFile: 'Main.java',
      compile: ['javac', '-d', '.', 'Main.java'],
      run: ['java', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', '.', 'Main'],
      artifacts: ['Main.class'],
      notes:
        'The snippet must declare a top-level class `Main` with `public static void main`. javac also emits ' +
        'Main$*.class for nested classes. Single-file launch (`java Main.java`) would work too but recompiles in ' +
        'memory on every run and allows only one file; separate javac keeps compile errors distinct from run errors.',
    },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('500m', '768Mi', '2', '1536Mi'),
    debianPackages: ['openjdk-17-jdk-headless'],
    versionCommand: ['java', '-version'],
    smoke: {
      code: 'public class Main { public static void main(String[] a) { System.out.println("smoke " + (6 * 7)); } }',
      stdout: 'smoke 42\n',
    },
  },
  rust: {
    displayName: 'Rust',
    language: 'rust',
    fileExtension: '.rs',
    kernel: null,
    run: {
      sourceFile: 'main.rs',
      compile: [
        'rustc',
        '--edition',
        '2021',
        '-C',
        'opt-level=0',
        '-C',
        'debuginfo=0',
        '-o',
        'main',
        'main.rs',
      ],
      run: ['./main'],
      artifacts: ['main'],
      notes: 'opt-level=0 for the fastest compile (snippets are short-lived); no cargo, so std only.',
    },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('500m', '768Mi', '2', '1536Mi'),
    debianPackages: ['rustc', 'libc6-dev'],
    versionCommand: ['rustc', '--version'],
    smoke: {
      code: 'fn main() { println!("smoke {}", 6 * 7); }',
      stdout: 'smoke 42\n',
    },
  },
  go: {
    displayName: 'Go',
    language: 'go',
    fileExtension: '.go',
    kernel: null,
    run: {
      sourceFile: 'main.go',
      run: ['go', 'run', 'main.go'],
      env: { GO111MODULE: 'auto', GOFLAGS: '-buildvcs=false', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
      writableDirEnv: ['GOCACHE', 'GOPATH', 'GOTMPDIR'],
      notes:
        'go needs a writable GOCACHE (build cache, otherwise "GOCACHE is not defined and neither $XDG_CACHE_HOME ' +
        'nor $HOME are defined"); keeping it per session under tmp makes repeated runs fast. std only.',
    },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('500m', '512Mi', '2', '1Gi'),
    debianPackages: ['golang-go'],
    versionCommand: ['go', 'version'],
    smoke: {
      code: 'package main\nimport "fmt"\nfunc main() { fmt.Println("smoke", 6*7) }',
      stdout: 'smoke 42\n',
    },
  },
  ruby: {
    displayName: 'Ruby',
    language: 'ruby',
    fileExtension: '.rb',
    kernel: null,
    run: { sourceFile: 'main.rb', run: ['ruby', 'main.rb'] },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('250m', '256Mi', '1', '512Mi'),
    debianPackages: ['ruby'],
    versionCommand: ['ruby', '--version'],
    smoke: {
      code: 'puts "smoke #{6 * 7}"',
      stdout: 'smoke 42\n',
    },
  },
  r: {
    displayName: 'R',
    language: 'r',
    fileExtension: '.R',
    kernel: null,
    run: { sourceFile: 'main.R', run: ['Rscript', 'main.R'] },
    packageManager: null,
    preinstalledPackages: [],
    defaultResources: res('250m', '384Mi', '1', '768Mi'),
    debianPackages: ['r-base-core'],
    versionCommand: ['Rscript', '--version'],
    smoke: {
      code: 'cat("smoke ", 6 * 7, "\\n", sep = "")',
      stdout: 'smoke 42\n',
    },
  },
  'code-interpreter-v1': {
    displayName: 'Code interpreter (E2B code-interpreter-v1)',
    language: 'python',
    fileExtension: '.py',
    kernel: 'python',
    kernels: ['python', 'node', 'typescript', 'bash'],
    run: {
      sourceFile: 'main.py',
      run: ['python3', '-u', 'main.py'],
      env: { MPLBACKEND: 'Agg' },
      writableDirEnv: ['MPLCONFIGDIR'],
      notes:
        "E2B's default code-interpreter template: python-data (numpy, pandas, matplotlib) plus node, typescript " +
        'and bash kernels, each a context of the same session (same sandbox and limits). Figures open at the end ' +
        'of a cell are returned as image/png results (matplotlib Agg, no file needed).',
    },
    packageManager: 'pip',
    preinstalledPackages: ['numpy', 'pandas', 'matplotlib', 'typescript'],
    defaultResources: res('500m', '768Mi', '2', '2Gi'),
    debianPackages: [
      ...PYTHON_DEBIAN,
      'python3-numpy',
      'python3-pandas',
      'python3-matplotlib',
      'nodejs',
      'npm',
      'bash',
      'coreutils',
    ],
    versionCommand: [
      'python3',
      '-c',
      'import sys, numpy, pandas, matplotlib; print(sys.version.split()[0], numpy.__version__, pandas.__version__, matplotlib.__version__)',
    ],
    smoke: {
      code: 'import numpy as np, pandas as pd, matplotlib\nimport matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot(np.arange(3))\nplt.close(fig)\nprint("smoke", int(np.arange(4).sum()), len(pd.DataFrame({"a": [1, 2]})), matplotlib.get_backend().lower())',
      stdout: 'smoke 6 2 agg\n',
    },
  },
  base: {
    displayName: 'Base (E2B base: bash + python)',
    language: 'bash',
    fileExtension: '.sh',
    kernel: 'bash',
    kernels: ['bash', 'python'],
    run: {
      sourceFile: 'main.sh',
      run: ['bash', 'main.sh'],
      notes:
        "E2B's default `base` template: a stateful bash kernel (variables, functions and cwd survive between " +
        'executions) and a python kernel as a second context. The bash kernel is driven by a small python3 ' +
        'wrapper (the image has python3 for that).',
    },
    packageManager: 'pip',
    preinstalledPackages: [],
    defaultResources: res('250m', '256Mi', '1', '512Mi'),
    debianPackages: [...PYTHON_DEBIAN, 'bash', 'coreutils'],
    versionCommand: ['bash', '--version'],
    smoke: { code: 'echo smoke $((6 * 7))', stdout: 'smoke 42\n' },
  },
};

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const TEMPLATES: ReadonlyMap<TemplateName, Template> = new Map(
  TEMPLATE_NAMES.map((name) => [
    name,
    deepFreeze({
      name,
      image: templateImage(name),
      ...DEFINITIONS[name],
      kernels: DEFINITIONS[name].kernels ?? (DEFINITIONS[name].kernel ? [DEFINITIONS[name].kernel] : []),
    } satisfies Template),
  ]),
);

/**
 * The template named `name`.
 * @throws UnknownTemplateError (its message lists the valid names).
 */
export function getTemplate(name: string): Template {
  const template = isTemplateName(name) ? TEMPLATES.get(name) : undefined;
  if (!template) throw new UnknownTemplateError(name);
  return template;
}

/** All built-in templates, in {@link TEMPLATE_NAMES} order. */
export function listTemplates(): readonly Template[] {
  return [...TEMPLATES.values()];
}

/**
 * The kernel kind of `language` in `template` (`js` → node, `ts` → typescript, …), or undefined when
 * the template has no kernel for it.
 */
export function kernelForLanguage(template: Template, language: string): KernelKind | undefined {
  const l = language.trim().toLowerCase();
  return template.kernels.find(
    (k) =>
      KERNEL_LANGUAGES[k] === l ||
      k === l ||
      (k === 'node' && (l === 'js' || l === 'nodejs')) ||
      (k === 'typescript' && l === 'ts') ||
      (k === 'python' && (l === 'python3' || l === 'py')) ||
      (k === 'bash' && (l === 'sh' || l === 'shell')),
  );
}

/** Names of the templates that have a stateful kernel. */
export function kernelTemplateNames(): readonly TemplateName[] {
  return listTemplates()
    .filter((t) => t.kernel !== null)
    .map((t) => t.name);
}

/**
 * The environment for a one-shot run: `run.env` plus every `run.writableDirEnv` variable set to
 * `<writableRoot>/<lower-case name>` (the caller creates the directories; `writableRoot` must be absolute).
 */
export function resolveRunEnv(template: Template, writableRoot: string): Record<string, string> {
  if (!writableRoot.startsWith('/')) {
    throw new Error(`writableRoot must be an absolute path, got ${JSON.stringify(writableRoot)}`);
  }
  const root = writableRoot.replace(/\/+$/, '');
  const env: Record<string, string> = { ...template.run.env };
  for (const name of template.run.writableDirEnv ?? []) env[name] = `${root}/${name.toLowerCase()}`;
  return env;
}
