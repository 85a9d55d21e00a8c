import { getTemplate, TEMPLATE_NAMES, type TemplateName } from '@executor/templates';
import { SessionStates, type SessionRecord } from '../../state/session-store';
import { CLIENT_ID, ENVD_VERSION } from '../e2b-protocol';

/** `Sandbox` (create/connect): what the SDK needs to reach the sandbox. */
export interface E2bSandbox {
  sandboxID: string;
  templateID: string;
  alias: string;
  clientID: string;
  envdVersion: string;
  envdAccessToken: string;
  trafficAccessToken: string;
}

/** `ListedSandbox` (list) — and, with the token, `SandboxDetail` (getInfo). */
export interface E2bListedSandbox {
  sandboxID: string;
  templateID: string;
  alias: string;
  clientID: string;
  metadata: Record<string, string>;
  startedAt: string;
  endAt: string;
  state: 'running' | 'paused';
  cpuCount: number;
  memoryMB: number;
  diskSizeMB: number;
  envdVersion: string;
}

export interface E2bSandboxDetail extends E2bListedSandbox {
  envdAccessToken?: string;
  lifecycle: { onTimeout: 'kill'; autoResume: false };
}

export function sandboxView(
  s: SessionRecord,
  tokens: { accessToken: string; trafficToken: string },
): E2bSandbox {
  return {
    sandboxID: s.id,
    templateID: s.template,
    alias: s.template,
    clientID: CLIENT_ID,
    envdVersion: ENVD_VERSION,
    envdAccessToken: tokens.accessToken,
    trafficAccessToken: tokens.trafficToken,
  };
}

/** E2B's two states: a session being paused is still reported running until it is paused. */
export function e2bState(s: SessionRecord): 'running' | 'paused' {
  return s.state === SessionStates.paused ? 'paused' : 'running';
}

export function listedView(s: SessionRecord): E2bListedSandbox {
  const res = templateResources(s.template);
  return {
    sandboxID: s.id,
    templateID: s.template,
    alias: s.template,
    clientID: CLIENT_ID,
    metadata: s.metadata,
    startedAt: new Date(s.createdAt).toISOString(),
    endAt: new Date(s.expiresAt).toISOString(),
    state: e2bState(s),
    cpuCount: res.cpuCount,
    memoryMB: res.memoryMB,
    diskSizeMB: 0,
    envdVersion: ENVD_VERSION,
  };
}

export function detailView(s: SessionRecord): E2bSandboxDetail {
  return {
    ...listedView(s),
    ...(s.accessToken ? { envdAccessToken: s.accessToken } : {}),
    lifecycle: { onTimeout: 'kill', autoResume: false },
  };
}

/**
 * cpuCount / memoryMB: the limits of the template's executor pod (sessions of a pod share them;
 * each session is further capped by the executor's per-session cgroup).
 */
export function templateResources(template: string): { cpuCount: number; memoryMB: number } {
  if (!(TEMPLATE_NAMES as readonly string[]).includes(template)) return { cpuCount: 1, memoryMB: 512 };
  const limits = getTemplate(template as TemplateName).defaultResources.limits;
  return {
    cpuCount: Math.max(1, Math.ceil(parseCpu(limits.cpu))),
    memoryMB: Math.round(parseBytes(limits.memory) / 2 ** 20),
  };
}

/** Kubernetes CPU quantity ("500m", "2") in cores. */
export function parseCpu(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

const BYTE_UNITS: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** Kubernetes memory quantity ("512Mi", "1G", "1048576") in bytes. */
export function parseBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/.exec(q);
  if (!m) return 0;
  return Number(m[1]) * (m[2] ? (BYTE_UNITS[m[2]] ?? 1) : 1);
}
