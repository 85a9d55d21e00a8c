import { isApiStatus, type KubeClient } from '../kube/kube-client';
import {
  createCertificateAuthority,
  createServingCertificate,
  msUntilExpiry,
  serviceDnsNames,
  servingCertificateFits,
} from './certificates';

/** The serving key pair of this replica and the CA clients verify it with. */
export interface ServingTls {
  certPem: string;
  keyPem: string;
  /** PEM of the CA (the APIService's caBundle); empty when the Secret has none. */
  caPem: string;
  /** True when the operator generated the Secret and renews it (it holds `ca.key`). */
  managed: boolean;
}

export interface ServingTlsOptions {
  namespace: string;
  secretName: string;
  /** Service in front of the server (the certificate's DNS names). */
  service: string;
  caDays: number;
  certDays: number;
  renewBeforeDays: number;
}

interface SecretObject {
  metadata: { name: string; resourceVersion?: string };
  type?: string;
  data?: Record<string, string>;
}

interface ApiServiceObject {
  spec?: {
    service?: { name?: string; namespace?: string } | null;
    caBundle?: string;
    insecureSkipTLSVerify?: boolean;
  };
}

export type CaBundleSync = 'patched' | 'unchanged' | 'absent' | 'foreign' | 'no-ca';

const DAY_MS = 86_400_000;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/**
 * The External metrics server's TLS, shared by every operator replica through one Secret (`tls.crt`,
 * `tls.key`, `ca.crt`, `ca.key`). The manifests ship it empty, so the operator needs only `get` and
 * `update` on that one name (RBAC cannot restrict `create` by name): the first replica that finds it
 * empty generates a CA (`caDays`) and a serving certificate for the Service's DNS names (`certDays`) and
 * writes them with the Secret's resourceVersion (a replica that loses the race reads the winner's); any
 * replica renews the serving certificate (same CA, so the caBundle stays valid) when less than
 * `renewBeforeDays` remain or the Service's names changed. A Secret with `tls.crt`/`tls.key` but no
 * `ca.key` is managed elsewhere (e.g. cert-manager): it is only read.
 */
export class ServingTlsStore {
  constructor(
    private readonly client: KubeClient,
    private readonly opts: ServingTlsOptions,
  ) {}

  private get secretPath(): string {
    return `/api/v1/namespaces/${this.opts.namespace}/secrets/${this.opts.secretName}`;
  }

  /** Reads (creating or renewing when needed) the serving certificate. */
  async ensure(): Promise<ServingTls> {
    const names = serviceDnsNames(this.opts.service, this.opts.namespace);
    const renewMs = this.opts.renewBeforeDays * DAY_MS;
    for (let attempt = 0; attempt < 5; attempt++) {
      const secret = await this.client.get<SecretObject>(this.secretPath).catch((err: unknown) => {
        if (isApiStatus(err, 404)) {
          throw new Error(
            `Secret ${this.opts.namespace}/${this.opts.secretName} does not exist: it is part of the manifests (k8s/config/deployment/external-metrics.yaml); the operator may only fill it`,
          );
        }
        throw err;
      });
      const d = secret.data ?? {};
      const certPem = unb64(d['tls.crt']);
      const keyPem = unb64(d['tls.key']);
      const caPem = unb64(d['ca.crt']);
      const caKeyPem = unb64(d['ca.key']);
      if (!caKeyPem && certPem && keyPem) return { certPem, keyPem, caPem, managed: false };
      const fits =
        certPem &&
        keyPem &&
        servingCertificateFits(certPem, caPem, names) &&
        msUntilExpiry(certPem) > renewMs;
      if (fits) return { certPem, keyPem, caPem, managed: true };
      // Fill the empty Secret, or renew: a new CA only when there is none or it is about to expire too.
      const ca =
        caPem && caKeyPem && msUntilExpiry(caPem) > renewMs + this.opts.certDays * DAY_MS
          ? { certPem: caPem, keyPem: caKeyPem }
          : await createCertificateAuthority(`${this.opts.service}-ca`, this.opts.caDays);
      const serving = await createServingCertificate(ca, names, this.opts.certDays);
      try {
        await this.client.replace(this.secretPath, {
          ...secret,
          data: this.encode(ca.certPem, ca.keyPem, serving.certPem, serving.keyPem),
        });
      } catch (err) {
        if (isApiStatus(err, 409)) continue; // filled or renewed by another replica meanwhile: read theirs
        throw err;
      }
      return { certPem: serving.certPem, keyPem: serving.keyPem, caPem: ca.certPem, managed: true };
    }
    throw new Error(`Secret ${this.opts.namespace}/${this.opts.secretName}: too many concurrent updates`);
  }

  /**
   * Keeps `spec.caBundle` of the APIService equal to the CA, if the APIService exists and points at our
   * Service (an APIService of another implementation, e.g. prometheus-adapter, is never touched).
   */
  async syncCaBundle(apiService: string, caPem: string): Promise<CaBundleSync> {
    if (!caPem) return 'no-ca';
    const path = `/apis/apiregistration.k8s.io/v1/apiservices/${apiService}`;
    const current = await this.client.get<ApiServiceObject>(path).catch((err: unknown) => {
      if (isApiStatus(err, 404)) return undefined;
      throw err;
    });
    if (!current) return 'absent';
    const svc = current.spec?.service;
    if (svc?.name !== this.opts.service || svc.namespace !== this.opts.namespace) return 'foreign';
    if (current.spec?.caBundle === b64(caPem) && !current.spec.insecureSkipTLSVerify) return 'unchanged';
    await this.client.mergePatch(path, { spec: { caBundle: b64(caPem), insecureSkipTLSVerify: false } });
    return 'patched';
  }

  private encode(caCert: string, caKey: string, cert: string, key: string): Record<string, string> {
    return { 'ca.crt': b64(caCert), 'ca.key': b64(caKey), 'tls.crt': b64(cert), 'tls.key': b64(key) };
  }
}
