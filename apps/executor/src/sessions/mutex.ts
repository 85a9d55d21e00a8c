/** A FIFO mutex: callers run one at a time, in the order they asked. */
export class FifoMutex {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  get pending(): number {
    return this.waiting;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    this.waiting++;
    try {
      await prev;
      return await fn();
    } finally {
      this.waiting--;
      release();
    }
  }
}
