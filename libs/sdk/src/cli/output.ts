/** Output helpers of the CLI: tables, sizes, the progress spinner. */

export interface Writable {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
}

/** A plain-text table with aligned columns (header first). */
export function table(header: string[], rows: Array<Array<string | number | boolean>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return (
    cells
      .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '))
      .join('\n') + '\n'
  );
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A progress line on stderr while waiting (only when stderr is a TTY; a no-op otherwise, so
 * pipes and logs stay clean). Appears after `delayMs`, shows the elapsed time, erased on stop.
 */
export function spinner(stream: Writable, label: string, delayMs = 400): { stop(): void } {
  if (!stream.isTTY) return { stop: () => undefined };
  const started = Date.now();
  let frame = 0;
  let shown = false;
  const draw = (): void => {
    shown = true;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label} ${secs}s`);
  };
  let interval: NodeJS.Timeout | undefined;
  const delay = setTimeout(() => {
    draw();
    interval = setInterval(draw, 100);
    interval.unref();
  }, delayMs);
  delay.unref();
  return {
    stop: (): void => {
      clearTimeout(delay);
      if (interval) clearInterval(interval);
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
