import { OutputCollector, markerPrefixAtEnd } from './output-collector';

describe('OutputCollector', () => {
  it('keeps output up to the limit, drops the rest and says so', () => {
    const c = new OutputCollector(5);
    c.begin();
    c.push(Buffer.from('abc'));
    c.push(Buffer.from('defgh'));
    expect(c.text()).toBe('abcde');
    expect(c.truncated).toBe(true);
  });

  it('finds the end marker even when split across chunks, and excludes it from the output', () => {
    const c = new OutputCollector(100);
    const done = jest.fn();
    c.begin('\0NONCE\0', done);
    c.push(Buffer.from('hello\0NO'));
    expect(done).not.toHaveBeenCalled();
    c.push(Buffer.from('NCE\0'));
    expect(done).toHaveBeenCalledTimes(1);
    expect(c.text()).toBe('hello');
  });

  it('detects the marker after the limit was reached (output is still drained)', () => {
    const c = new OutputCollector(3);
    const done = jest.fn();
    c.begin('#END#', done);
    c.push(Buffer.from('x'.repeat(1000)));
    c.push(Buffer.from('yy#END#'));
    expect(done).toHaveBeenCalled();
    expect(c.text()).toBe('xxx');
    expect(c.truncated).toBe(true);
  });

  it('releases held-back bytes on flush when the marker never comes', () => {
    const c = new OutputCollector(100);
    c.begin('#END#', () => undefined);
    c.push(Buffer.from('partial#EN'));
    c.flush();
    expect(c.text()).toBe('partial#EN');
  });

  it('streams output to a listener at once (no hold-back unless the tail may start the marker)', () => {
    const c = new OutputCollector(100);
    const seen: string[] = [];
    c.begin(
      '\0NONCE\0',
      () => undefined,
      (d) => seen.push(d.toString()),
    );
    c.push(Buffer.from('a\n'));
    expect(seen).toEqual(['a\n']); // not held until the next chunk
    c.push(Buffer.from('b\0NO'));
    expect(seen).toEqual(['a\n', 'b']);
    c.push(Buffer.from('T\0'));
    expect(seen).toEqual(['a\n', 'b', '\0NOT']); // the last \0 may start the marker
    c.push(Buffer.from('\0NONCE\0'));
    expect(c.text()).toBe('a\nb\0NOT\0');
  });

  it('streams nothing past the limit', () => {
    const c = new OutputCollector(4);
    const seen: string[] = [];
    c.begin(undefined, undefined, (d) => seen.push(d.toString()));
    c.push(Buffer.from('abc'));
    c.push(Buffer.from('defg'));
    expect(seen).toEqual(['abc', 'd']);
  });

  it('finds marker prefixes at the end of a chunk', () => {
    const m = Buffer.from('\0XY\0');
    expect(markerPrefixAtEnd(Buffer.from('abc'), m)).toBe(0);
    expect(markerPrefixAtEnd(Buffer.from('abc\0'), m)).toBe(1);
    expect(markerPrefixAtEnd(Buffer.from('abc\0X'), m)).toBe(2);
    expect(markerPrefixAtEnd(Buffer.from('abc\0Z'), m)).toBe(0);
    expect(markerPrefixAtEnd(Buffer.from('\0XY'), m)).toBe(3);
  });
});
