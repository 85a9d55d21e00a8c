import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compressBlob, decompressBlob } from './blob';
import { decodeState, decodeStateWithBlobs, encodeState } from './codec';
import { encodeStateV0ForTests } from './codec-v0';
import { StateIntegrityError, StateVersionError } from './errors';
import { SESSION_STATE_SCHEMA_VERSION } from './model';
import { file, sampleState } from './test-helpers';

const FIXTURE_V0 = join(__dirname, '__fixtures__', 'state-v0.bin');

function richState() {
  const text = Buffer.from('def f(x):\n    return x * 2\n'.repeat(200));
  const binary = Buffer.from([0, 1, 2, 255, 254, 0, 0, 10, 13, 0x1f, 0x8b]);
  const random = randomBytes(300 * 1024); // incompressible: goes to the stored section
  return sampleState([
    { path: 'data', type: 'dir', mode: 0o755, size: 0, mtimeMs: 1 },
    file('data/blob.bin', binary),
    file('data/random.bin', random, 0o600),
    file('main.py', text, 0o755),
    file('empty.txt', Buffer.alloc(0)),
    { path: 'link', type: 'symlink', mode: 0o777, size: 0, mtimeMs: 1, target: 'main.py' },
  ]);
}

describe('encodeState / decodeState', () => {
  it('round-trips every field, binary contents byte for byte, with the current schema version', () => {
    const state = richState();
    const buf = encodeState(state);
    expect(buf.subarray(0, 4).toString()).toBe('ESST');
    expect(buf.readUInt16BE(4)).toBe(SESSION_STATE_SCHEMA_VERSION);
    const back = decodeState(buf);
    expect(back).toEqual(state);
    for (const f of state.files) {
      const g = back.files.find((x) => x.path === f.path);
      if (f.content) expect(Buffer.compare(g?.content as Buffer, f.content)).toBe(0);
    }
  });

  it('carries contents as raw bytes (no base64) and compresses text', () => {
    const big = Buffer.from('x = 1\n'.repeat(100_000));
    const buf = encodeState(sampleState([file('a.py', big)]));
    expect(buf.length).toBeLessThan(big.length / 20);
    const random = randomBytes(256 * 1024);
    const raw = encodeState(sampleState([file('r.bin', random)]));
    expect(raw.length).toBeLessThan(random.length + 2048); // stored as is, not inflated by base64 (+33%)
    expect(raw.includes(random)).toBe(true);
  });

  it('encodes with gzip or none as asked, and decodes each', () => {
    const state = richState();
    for (const codec of ['gzip', 'none', 'brotli'] as const) {
      expect(decodeState(encodeState(state, { compression: { codec } }))).toEqual(state);
    }
  });

  it('round-trips a delta (files without content, baseVersion set)', () => {
    const full = file('a.txt', 'hello');
    const { content: _c, ...noContent } = full;
    const delta = sampleState([noContent, file('b.txt', 'new')], { baseVersion: 3 });
    expect(decodeState(encodeState(delta))).toEqual(delta);
  });

  it('writes pre-compressed blobs as they are and decodes them to verified contents', () => {
    const a = file('a.txt', 'hello blob '.repeat(500));
    const twin = { ...file('copy.txt', 'hello blob '.repeat(500)) };
    const blob = compressBlob(a.content as Buffer);
    const strip = ({ content: _c, ...e }: typeof a) => e;
    const state = sampleState([strip(a), strip(twin), file('b.txt', 'inline')]);
    const buf = encodeState(state, {
      blobs: new Map([[blob.hash, blob.data]]),
      compression: { codec: 'none' },
    });
    expect(buf.indexOf(blob.data)).toBeGreaterThan(0);
    expect(buf.lastIndexOf(blob.data)).toBe(buf.indexOf(blob.data)); // stored once for both paths
    const back = decodeState(buf);
    expect(back.files.map((f) => f.content?.toString())).toEqual([
      'hello blob '.repeat(500),
      'hello blob '.repeat(500),
      'inline',
    ]);
    // A blob whose content does not match the entry's hash is refused.
    const other = compressBlob(Buffer.from('something else'));
    const lying = encodeState(sampleState([strip(a)]), { blobs: new Map([[a.hash as string, other.data]]) });
    expect(() => decodeState(lying)).toThrow(StateIntegrityError);
  });

  it('encodes every file as its own blob with fileBlobs, and hands the verified blobs back', () => {
    const state = richState();
    const buf = encodeState(state, { fileBlobs: true });
    const { state: back, blobs } = decodeStateWithBlobs(buf);
    expect(back).toEqual(state);
    const withContent = state.files.filter((f) => f.content);
    expect([...blobs.keys()].sort()).toEqual([...new Set(withContent.map((f) => f.hash as string))].sort());
    for (const f of withContent)
      expect(
        decompressBlob(blobs.get(f.hash as string) as Buffer, f.hash as string).equals(f.content as Buffer),
      ).toBe(true);
    const bad = Buffer.from(buf);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    expect(() => decodeStateWithBlobs(bad)).toThrow(StateIntegrityError);
  });

  it('rejects every truncation with StateIntegrityError', () => {
    const buf = encodeState(richState());
    for (const len of [0, 3, 10, 67, 68, 100, Math.floor(buf.length / 2), buf.length - 1]) {
      expect(() => decodeState(buf.subarray(0, len))).toThrow(StateIntegrityError);
    }
    expect(() => decodeState(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing bytes/);
  });

  it('rejects a single flipped bit anywhere (header, packed or stored section)', () => {
    const buf = encodeState(richState());
    for (const pos of [5, 7, 13, 40, 70, Math.floor(buf.length / 3), buf.length - 5]) {
      const bad = Buffer.from(buf);
      bad[pos] = (bad[pos] as number) ^ 0x04;
      expect(() => decodeState(bad)).toThrow(pos === 5 ? Error : StateIntegrityError);
    }
  });

  it('rejects foreign bytes and newer schema versions clearly', () => {
    expect(() => decodeState(Buffer.from('{"sessionId":"x"}'))).toThrow(/not an encoded session state/);
    expect(() => decodeState(gzipSync(Buffer.from('x')))).toThrow(StateIntegrityError);
    const future = Buffer.from(encodeState(richState()));
    future.writeUInt16BE(99, 4);
    expect(() => decodeState(future)).toThrow(StateVersionError);
  });

  it('refuses content that does not match its declared hash', () => {
    const f = file('a.txt', 'hello');
    const lying = sampleState([{ ...f, hash: 'a'.repeat(64) }]);
    expect(() => decodeState(encodeState(lying))).toThrow(/does not match its hash/);
    expect(decodeState(encodeState(lying), { verifyContent: false }).files[0]?.content?.toString()).toBe(
      'hello',
    );
  });

  it('refuses to encode content whose length contradicts size', () => {
    expect(() => encodeState(sampleState([{ ...file('a', 'abc'), size: 2 }]))).toThrow(/size says 2/);
  });

  describe('schema version 0 (shipped fixture)', () => {
    it('still decodes, upgraded to the current model', () => {
      const state = decodeState(readFileSync(FIXTURE_V0));
      expect(state.schemaVersion).toBe(SESSION_STATE_SCHEMA_VERSION);
      expect(state.poolName).toBe('python');
      expect(state.podName).toBe('python-abc');
      expect(state.tenant).toBe('');
      const bin = state.files.find((f) => f.path === 'data/blob.bin');
      expect([...(bin?.content as Buffer)]).toEqual([0, 1, 2, 255, 254, 0, 0, 10, 13, 0x1f, 0x8b]);
      expect(state.files.find((f) => f.path === 'link')?.target).toBe('main.py');
      expect(state.env).toEqual({ FOO: 'bar', EMPTY: '' });
    });

    it('detects corruption of a v0 blob', () => {
      const buf = Buffer.from(readFileSync(FIXTURE_V0));
      buf[buf.length - 3] = (buf[buf.length - 3] as number) ^ 1;
      expect(() => decodeState(buf)).toThrow(StateIntegrityError);
    });

    it('the fixture is what the v0 writer produces (regenerate with REGEN_FIXTURES=1)', () => {
      const fixtureState = sampleState([
        { path: 'data', type: 'dir', mode: 0o755, size: 0, mtimeMs: 1 },
        file('data/blob.bin', Buffer.from([0, 1, 2, 255, 254, 0, 0, 10, 13, 0x1f, 0x8b])),
        file('main.py', 'print("hi")\n', 0o755),
        { path: 'link', type: 'symlink', mode: 0o777, size: 0, mtimeMs: 1, target: 'main.py' },
      ]);
      const v0 = encodeStateV0ForTests(fixtureState);
      if (process.env['REGEN_FIXTURES']) require('node:fs').writeFileSync(FIXTURE_V0, v0);
      expect(decodeState(v0)).toEqual(decodeState(readFileSync(FIXTURE_V0)));
    });
  });
});
