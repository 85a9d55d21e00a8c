import { randomBytes } from 'node:crypto';
import { blobRawSize, compressBlob, decompressBlob, verifyBlob } from './blob';
import { StateIntegrityError } from './errors';
import { hashContent } from './hash';

describe('content-addressed blobs', () => {
  it('keys by the sha256 of the uncompressed content and round-trips', () => {
    const text = Buffer.from('import os\n'.repeat(1000));
    const b = compressBlob(text);
    expect(b.hash).toBe(hashContent(text));
    expect(b.data.length).toBeLessThan(text.length / 10);
    expect(blobRawSize(b.data)).toBe(text.length);
    expect(decompressBlob(b.data, b.hash).equals(text)).toBe(true);
    expect(decompressBlob(compressBlob(Buffer.alloc(0)).data, hashContent(Buffer.alloc(0))).length).toBe(0);
  });

  it('stores incompressible content as is (no wasted CPU, no growth)', () => {
    const random = randomBytes(512 * 1024);
    const b = compressBlob(random);
    expect(b.data[2]).toBe(0);
    expect(b.data.length).toBe(random.length + 13);
    expect(decompressBlob(b.data, b.hash).equals(random)).toBe(true);
  });

  it('rejects corrupted, truncated or mismatching blobs', () => {
    const text = Buffer.from('hello world '.repeat(100));
    const b = compressBlob(text);
    const flipped = Buffer.from(b.data);
    flipped[flipped.length - 2] = (flipped[flipped.length - 2] as number) ^ 0xff;
    expect(() => decompressBlob(flipped, b.hash)).toThrow(StateIntegrityError);
    expect(() => decompressBlob(b.data.subarray(0, b.data.length - 3), b.hash)).toThrow(StateIntegrityError);
    expect(() => decompressBlob(b.data.subarray(0, 4), b.hash)).toThrow(/bad header or truncated/);
    expect(() => decompressBlob(b.data, hashContent(Buffer.from('other')))).toThrow(/corrupted/);
    expect(verifyBlob(b.data, b.hash)).toBe(text.length);
    expect(() => verifyBlob(flipped, b.hash)).toThrow(/crc32 mismatch/);
    const raw = compressBlob(randomBytes(1000), { codec: 'none' });
    const rawBad = Buffer.from(raw.data);
    rawBad[100] = (rawBad[100] as number) ^ 1;
    expect(() => decompressBlob(rawBad, raw.hash)).toThrow(/corrupted/);
  });
});
