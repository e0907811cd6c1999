/**
 * The globals a processor's sandbox adds to the ECMAScript built-ins: only `console`, whose methods write to
 * the host log (counted like `ctx.log`). There is no `setTimeout`, `fetch`, `process` or DOM: a processor's
 * tsconfig uses `"lib": ["es2024"]` and `"types": ["lollms-host/sandbox-globals"]`, so that using them is a
 * type error, as it is an error in the sandbox.
 */
declare var console: {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
};

/**
 * Named by plugin-api's binding types, which a processor's program includes through `lollms-host/plugin-api`.
 * A processor never gets one (its cancel flag is `ctx.signal.aborted`); this is only its type, which merges
 * with the DOM's or Node's where those are loaded.
 */
interface AbortSignal {
  readonly aborted: boolean;
}
