/**
 * Redis key layout of the state store (prefix P = `<QUEUE_PREFIX>:state`):
 *
 * | key | type | holds |
 * | --- | --- | --- |
 * | `P:blob:<sha256>` | string | a file content, compressed (`compressBlob`), shared by every version and session |
 * | `P:bref` | hash | sha256 → number of sessions referencing the blob (global refcount) |
 * | `P:braw` | hash | sha256 → uncompressed size |
 * | `P:s:<id>` | hash | session: seq, tenant, pool, pod, template, expiresAt, uniqBytes, latest, updatedAt |
 * | `P:s:<id>:v` | list | kept versions, newest first |
 * | `P:s:<id>:m:<v>` | string | manifest of version v (compressed JSON: state without contents) |
 * | `P:s:<id>:h:<v>` | string | distinct content hashes of version v (64 hex chars each, for Lua) |
 * | `P:s:<id>:vinfo` | hash | v → JSON summary (time, trigger, pod, files, bytes, manifest hash) |
 * | `P:s:<id>:refs` | hash | sha256 → number of this session's kept versions referencing it |
 * | `P:expiry` | zset | session id → epoch ms after which its state is removed |
 * | `P:pod:<pod>` / `P:pool:<pool>` | set | sessions last snapshotted by that pod / in that pool |
 * | `P:stats` | hash | logical, physical, blobs, versions, sessions |
 */
export class StateKeys {
  readonly root: string;
  constructor(queuePrefix: string) {
    this.root = `${queuePrefix}:state`;
  }
  blob(hash: string): string {
    return `${this.root}:blob:${hash}`;
  }
  session(id: string): string {
    return `${this.root}:s:${id}`;
  }
  versions(id: string): string {
    return `${this.session(id)}:v`;
  }
  manifest(id: string, v: number | string): string {
    return `${this.session(id)}:m:${v}`;
  }
  hashes(id: string, v: number | string): string {
    return `${this.session(id)}:h:${v}`;
  }
  vinfo(id: string): string {
    return `${this.session(id)}:vinfo`;
  }
  refs(id: string): string {
    return `${this.session(id)}:refs`;
  }
  get expiry(): string {
    return `${this.root}:expiry`;
  }
  get stats(): string {
    return `${this.root}:stats`;
  }
  pod(pod: string): string {
    return `${this.root}:pod:${pod}`;
  }
  pool(pool: string): string {
    return `${this.root}:pool:${pool}`;
  }
}
