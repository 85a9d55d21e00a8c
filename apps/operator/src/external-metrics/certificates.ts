import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs the Reflect metadata API
import { X509Certificate as NodeX509, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * The TLS material of the External metrics server: a CA of its own (the APIService's `caBundle`) and a
 * serving certificate for the Service's DNS names, signed by it. ECDSA P-256 / SHA-256 keys from the
 * platform's WebCrypto; certificates built with @peculiar/x509 (Node can parse X.509 but not issue it).
 */

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
}

/** The DNS names a client of Service `<service>.<namespace>` may use; the aggregator uses `<service>.<namespace>.svc`. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // positive
  return b.toString('hex');
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function importKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return (await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign'])) as webcrypto.CryptoKey;
}

/** A new self-signed CA valid for `days` (backdated one hour for clock skew). */
export async function createCertificateAuthority(
  commonName: string,
  days: number,
): Promise<CertificateAuthority> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyDer = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', keyDer) };
}

/** A serving certificate for `dnsNames`, signed by `ca`, valid for `days` (never beyond the CA). */
export function createServingCertificate(
  ca: CertificateAuthority,
  dnsNames: readonly string[],
  days: number,
): Promise<ServingCertificate> {
  return issueCertificate(
    ca,
    { commonName: dnsNames[0] ?? 'external-metrics', dnsNames, usage: 'server' },
    days,
  );
}

/**
 * A leaf certificate signed by `ca`: `server` (serverAuth, DNS names) or `client` (clientAuth, e.g. a
 * front-proxy client certificate in tests), valid for `days` (never beyond the CA).
 */
export async function issueCertificate(
  ca: CertificateAuthority,
  leaf: { commonName: string; dnsNames?: readonly string[]; usage: 'server' | 'client' },
  days: number,
): Promise<ServingCertificate> {
  const dnsNames = leaf.dnsNames ?? [];
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKey(ca.keyPem);
  const keys = await newKeys();
  const now = Date.now();
  const notAfter = Math.min(now + days * DAY_MS, caCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${leaf.commonName}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        leaf.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(dnsNames.length > 0
        ? [
            new x509.SubjectAlternativeNameExtension(
              dnsNames.map((value) => ({ type: 'dns' as const, value })),
            ),
          ]
        : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const keyDer = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', keyDer) };
}

/** Milliseconds until `certPem` expires (negative when it has). */
export function msUntilExpiry(certPem: string, now = Date.now()): number {
  return new Date(new NodeX509(certPem).validTo).getTime() - now;
}

/** Whether `certPem` was issued by `caPem` (signature verified) and names every one of `dnsNames`. */
export function servingCertificateFits(certPem: string, caPem: string, dnsNames: readonly string[]): boolean {
  try {
    const cert = new NodeX509(certPem);
    const ca = new NodeX509(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    const sans = (cert.subjectAltName ?? '').split(',').map((s) => s.trim().replace(/^DNS:/, ''));
    return dnsNames.every((n) => sans.includes(n));
  } catch {
    return false;
  }
}
