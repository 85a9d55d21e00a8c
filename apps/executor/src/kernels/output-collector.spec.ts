import { OutputCollector } from './output-collector';

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
});
