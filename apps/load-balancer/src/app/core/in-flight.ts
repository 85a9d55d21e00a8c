/** In-flight requests of this replica per pool (per replica by design, as in Envoy). */
export class InFlight {
  private readonly counts = new Map<string, number>();

  inc(pool: string): void {
    this.counts.set(pool, (this.counts.get(pool) ?? 0) + 1);
  }

  dec(pool: string): void {
    const n = (this.counts.get(pool) ?? 1) - 1;
    if (n <= 0) this.counts.delete(pool);
    else this.counts.set(pool, n);
  }

  get(pool: string): number {
    return this.counts.get(pool) ?? 0;
  }
}
