/**
 * `Symbol.asyncDispose` exists from Node 20.4 (and is what `await using` calls); older runtimes get
 * the registry symbol TypeScript's downlevelled `await using` falls back to.
 */
const symbols = Symbol as unknown as { asyncDispose?: symbol; dispose?: symbol };
symbols.asyncDispose ??= Symbol.for('Symbol.asyncDispose');
symbols.dispose ??= Symbol.for('Symbol.dispose');

export {};
