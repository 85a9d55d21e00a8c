import { FifoMutex } from './mutex';

describe('FifoMutex', () => {
  it('runs callers one at a time in arrival order, even when one fails', async () => {
    const m = new FifoMutex();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = m.run(async () => {
      order.push('a-start');
      await gate;
      order.push('a-end');
    });
    const b = m.run(async () => {
      order.push('b');
      throw new Error('b fails');
    });
    const c = m.run(async () => {
      order.push('c');
      return 3;
    });
    expect(m.pending).toBe(3);
    release();
    await a;
    await expect(b).rejects.toThrow('b fails');
    await expect(c).resolves.toBe(3);
    expect(order).toEqual(['a-start', 'a-end', 'b', 'c']);
    expect(m.pending).toBe(0);
  });
});
