/**
 * A Dockerfile parser and the lint rules the repository holds its Dockerfiles to (hadolint is not
 * packaged for Debian bookworm). Rules (ids in the findings):
 *   DF001 base images pinned: a tag other than `latest`, or a digest (ARG defaults resolved)
 *   DF002 the final stage runs as a numeric non-root USER (runAsNonRoot can verify it)
 *   DF003 a HEALTHCHECK, unless the caller says probes cover it (Kubernetes ignores HEALTHCHECK)
 *   DF004 no ADD (COPY only; never ADD of a URL)
 *   DF005 apt-get: update and install in the same RUN, --no-install-recommends, -y, lists removed
 *   DF006 CMD / ENTRYPOINT in exec (JSON) form
 *   DF007 no `curl … | sh`, no sudo
 *   DF008 multi-stage (when required): at least two stages, the last copies from an earlier one
 *   DF009 RUN with a pipe sets `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` first
 */

export interface Instruction {
  /** Upper-case keyword (FROM, RUN, ...). */
  keyword: string;
  /** Arguments, continuation lines joined. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  /** Image reference as written (may contain ${ARG}). */
  from: string;
  /** The same with ARG defaults substituted. */
  resolvedFrom: string;
  alias?: string;
  instructions: Instruction[];
}

export interface Finding {
  rule: string;
  line: number;
  message: string;
}

const KEYWORDS = new Set([
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
  'MAINTAINER',
]);

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const out: Instruction[] = [];
  let current: { parts: string[]; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines (also inside a continuation, as Docker does) and blank lines are skipped.
    if (trimmed.startsWith('#') || trimmed === '') return;
    const continues = trimmed.endsWith('\\');
    const content = continues ? trimmed.slice(0, -1) : trimmed;
    if (current === undefined) current = { parts: [], line: i + 1 };
    current.parts.push(content);
    if (!continues) {
      const joined = current.parts.join(' ').trim();
      const match = /^(\S+)\s*(.*)$/s.exec(joined);
      if (match) {
        const keyword = match[1].toUpperCase();
        if (!KEYWORDS.has(keyword)) throw new Error(`line ${current.line}: unknown instruction ${match[1]}`);
        out.push({ keyword, args: match[2].trim(), line: current.line });
      }
      current = undefined;
    }
  });
  if (current) throw new Error('the file ends inside a line continuation');
  return out;
}

function substitute(value: string, args: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, a: string | undefined, b: string | undefined) => args[(a ?? b) as string] ?? whole,
  );
}

/** Groups instructions into stages; ARGs before the first FROM provide defaults for FROM lines. */
export function stagesOf(instructions: readonly Instruction[]): {
  globalArgs: Record<string, string>;
  stages: Stage[];
} {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'ARG' && stages.length === 0) {
      const [name, ...value] = ins.args.split('=');
      globalArgs[name.trim()] = value.join('=').replace(/^"|"$/g, '');
    } else if (ins.keyword === 'FROM') {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const from = parts[0];
      const alias = parts.length >= 3 && parts[1].toUpperCase() === 'AS' ? parts[2] : undefined;
      stages.push({ from, resolvedFrom: substitute(from, globalArgs), alias, instructions: [ins] });
    } else {
      if (stages.length === 0) throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

export interface LintOptions {
  /** DF008: the image must be built in more than one stage. */
  requireMultiStage: boolean;
  /** DF003: Kubernetes probes (or the base image) cover health; no HEALTHCHECK needed. */
  healthFromProbes?: boolean;
}

function isExecForm(args: string): boolean {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}

/** True if `ref` names a pinned image: `name:tag` (tag ≠ latest) or `name@sha256:...`. */
export function isPinned(ref: string): boolean {
  if (ref.includes('$')) return false;
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) return false;
  const tag = ref.slice(colon + 1);
  return tag !== '' && tag !== 'latest';
}

function lintApt(ins: Instruction, findings: Finding[]): void {
  const cmd = ins.args;
  if (!/apt-get\s+(-\S+\s+)*install/.test(cmd)) {
    if (/apt-get\s+update/.test(cmd))
      findings.push({
        rule: 'DF005',
        line: ins.line,
        message: 'apt-get update without install in the same RUN',
      });
    return;
  }
  if (!/apt-get\s+update/.test(cmd))
    findings.push({
      rule: 'DF005',
      line: ins.line,
      message: 'apt-get install without apt-get update in the same RUN',
    });
  if (!cmd.includes('--no-install-recommends'))
    findings.push({
      rule: 'DF005',
      line: ins.line,
      message: 'apt-get install without --no-install-recommends',
    });
  if (!/apt-get\s+(\S+\s+)*(-y|--yes|-qq)\b/.test(cmd))
    findings.push({ rule: 'DF005', line: ins.line, message: 'apt-get install without -y' });
  if (!/rm\s+-rf\s+\/var\/lib\/apt\/lists/.test(cmd))
    findings.push({
      rule: 'DF005',
      line: ins.line,
      message: 'apt lists not removed (rm -rf /var/lib/apt/lists/*) in the same RUN',
    });
}

/** Lints a Dockerfile's text; returns every finding (empty = clean). */
export function lintDockerfile(text: string, options: LintOptions): Finding[] {
  const findings: Finding[] = [];
  const instructions = parseDockerfile(text);
  const { stages } = stagesOf(instructions);
  if (stages.length === 0) return [{ rule: 'DF001', line: 1, message: 'no FROM' }];
  const aliases = new Set<string>();
  for (const stage of stages) {
    if (!aliases.has(stage.resolvedFrom) && !isPinned(stage.resolvedFrom)) {
      findings.push({
        rule: 'DF001',
        line: stage.instructions[0].line,
        message: `base image ${stage.from} (${stage.resolvedFrom}) is not pinned to a tag or digest`,
      });
    }
    if (stage.alias) aliases.add(stage.alias);
  }
  let pipefail = false;
  for (const ins of instructions) {
    if (ins.keyword === 'SHELL' && ins.args.includes('pipefail')) pipefail = true;
    if (ins.keyword === 'FROM') pipefail = false;
    if (ins.keyword === 'ADD')
      findings.push({
        rule: 'DF004',
        line: ins.line,
        message: 'ADD is not allowed (use COPY; never ADD a URL)',
      });
    if ((ins.keyword === 'CMD' || ins.keyword === 'ENTRYPOINT') && !isExecForm(ins.args)) {
      findings.push({
        rule: 'DF006',
        line: ins.line,
        message: `${ins.keyword} must use the exec (JSON array) form`,
      });
    }
    if (ins.keyword === 'RUN') {
      lintApt(ins, findings);
      if (/\b(curl|wget)\b[^|]*\|\s*(ba)?sh\b/.test(ins.args))
        findings.push({ rule: 'DF007', line: ins.line, message: 'piping a download into a shell' });
      if (/\bsudo\b/.test(ins.args)) findings.push({ rule: 'DF007', line: ins.line, message: 'sudo in RUN' });
      if (/[^|]\|[^|]/.test(ins.args) && !pipefail)
        findings.push({
          rule: 'DF009',
          line: ins.line,
          message: 'RUN with a pipe needs SHELL ["/bin/bash", "-o", "pipefail", "-c"] first',
        });
    }
  }
  const last = stages[stages.length - 1];
  const users = last.instructions.filter((i) => i.keyword === 'USER');
  const finalUser = users.length > 0 ? users[users.length - 1].args.split(':')[0] : undefined;
  if (finalUser === undefined || !/^\d+$/.test(finalUser) || finalUser === '0') {
    findings.push({
      rule: 'DF002',
      line: users[users.length - 1]?.line ?? last.instructions[0].line,
      message: `the final stage must end with a numeric non-root USER (got ${finalUser ?? 'none'})`,
    });
  }
  if (!options.healthFromProbes && !instructions.some((i) => i.keyword === 'HEALTHCHECK')) {
    findings.push({ rule: 'DF003', line: 1, message: 'no HEALTHCHECK' });
  }
  if (options.requireMultiStage) {
    const copiesFromEarlier = last.instructions.some(
      (i) => i.keyword === 'COPY' && /--from=\S+/.test(i.args),
    );
    if (stages.length < 2 || !copiesFromEarlier) {
      findings.push({
        rule: 'DF008',
        line: 1,
        message: 'must be multi-stage: build in one stage, COPY --from it into the runtime stage',
      });
    }
  }
  return findings;
}
