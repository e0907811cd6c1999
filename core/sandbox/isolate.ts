import { Buffer } from 'node:buffer';
import ivm from 'isolated-vm';
import type { PersonalityView, ProcessorGenerateOptions, SettingTemplate, WorkflowInput } from '../../plugin-api/processor.js';
import {
  errorMessage,
  type LollmsHostError,
  SandboxBusy,
  SandboxDisposed,
  SandboxLoad,
  SandboxNodeSnapshot,
  SandboxNoHook,
} from '../errors.js';
import {
  BadPayload,
  BOOTSTRAP_SOURCE,
  decodeDetokenize,
  decodeEmit,
  decodeGenerate,
  decodeLog,
  decodeTokenize,
  type GuestLogLevel,
  wrapGuestBundle,
} from './bootstrap.js';
import { sandboxErrors, toGuestError } from './errors.js';
import { intrinsicGuards, resolveLimits, type SandboxLimits } from './limits.js';

export type ProcessorHook = 'processModelInput' | 'runWorkflow' | 'processModelOutput';
export const PROCESSOR_HOOKS: readonly ProcessorHook[] = ['processModelInput', 'runWorkflow', 'processModelOutput'];

/** What the guest's `ctx` reaches, per call. The host side of every `ctx` function. */
export interface SandboxHostApi {
  /** Generate with the loaded model; the host applies the personality's anti-prompts and streams chunks when asked. */
  generate(prompt: string, options: ProcessorGenerateOptions, signal: AbortSignal): Promise<string>;
  tokenize(text: string): Promise<number[]>;
  detokenize(tokens: number[]): Promise<string>;
  /** Every ctx message helper (chunk = 0 ... finishedMessage = 17, numbers of `MSG_TYPE`). */
  emit(type: number, content: string, metadata: Record<string, unknown>): void;
  log(level: GuestLogLevel, message: string): void;
}

/** One hook call. */
export interface SandboxCall {
  host: SandboxHostApi;
  /** The personality's current settings values; copied into the isolate and frozen there. */
  settings: Record<string, unknown>;
  /** The personality's config; copied into the isolate and frozen there. */
  personality: PersonalityView;
  /** Aborting cancels the in-flight `ctx.generate`; every further ctx call then throws a `CancelledError`. */
  signal: AbortSignal;
}

/** The subset of a pino logger the sandbox writes to. */
export interface SandboxLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal?(obj: object, msg?: string): void;
}

export interface ProcessorSandboxOptions {
  /** The personality's name: every error message and log line carries it. */
  name: string;
  /** The bundle from `compileProcessor`. */
  code: string;
  /** The limits (defaults fill fields left out); a breach fails the call and rebuilds the isolate. */
  limits: SandboxLimits;
  /** Where the guest's log lines and sandbox faults go; silent when left out. */
  logger?: SandboxLogger;
  /**
   * Calls that may wait while another call of this sandbox runs (calls are served one at a time); one more is
   * refused with `LH_ERR_SANDBOX_BUSY`. Default 32.
   */
  maxQueuedCalls?: number;
}

const WATCHDOG_INTERVAL_MS = 10;
/** How far past its CPU budget a call may get before the watchdog disposes the isolate. */
const WATCHDOG_GRACE_MS = 20;
const OK_NULL = JSON.stringify({ ok: true, value: null });
const FATAL_REPLY = JSON.stringify({
  ok: false,
  error: { name: 'SandboxLimitError', message: 'the processor exceeded a sandbox limit and is being stopped' },
});
const CANCELLED_ERROR = { name: 'CancelledError', message: 'The generation was cancelled', code: 'LH_ERR_CANCELLED' };
const CANCELLED_REPLY = JSON.stringify({ ok: false, error: CANCELLED_ERROR });
const replyError = (name: string, message: string) => JSON.stringify({ ok: false, error: { name, message } });
const noop = () => {};

type EntryFn = (op: string, ...args: unknown[]) => unknown;
/** A call's input, settings and personality, already serialized by the host. */
type RunJson = { input: string; settings: string; personality: string };
type RunKind = ProcessorHook | 'describe';
type AsyncOp = { op: 'generate'; prompt: string; options: ProcessorGenerateOptions } | { op: 'tokenize'; text: string } | { op: 'detokenize'; tokens: number[] };

/** One isolate and the processor compiled in it. Thrown away after any timeout, memory overflow or breach. */
class Vm {
  killed: string | undefined;

  constructor(
    readonly isolate: ivm.Isolate,
    readonly script: ivm.Script,
  ) {}

  get alive(): boolean {
    return this.killed === undefined && !this.isolate.isDisposed;
  }

  /** CPU time spent in the isolate, in ns (0 once disposed). */
  cpuTime(): bigint {
    try {
      return this.isolate.isDisposed ? 0n : this.isolate.cpuTime;
    } catch {
      return 0n;
    }
  }

  kill(reason: string): void {
    if (this.killed !== undefined) return;
    this.killed = reason;
    // Deferred: kill can be reached from a bridge callback, while the isolate thread waits for its reply.
    setImmediate(() => {
      try {
        if (!this.isolate.isDisposed) this.isolate.dispose();
      } catch {
        // already gone
      }
    });
  }
}

/** Host-side state of one hook call (or of the trial load). Nothing here is shared between calls. */
class Run {
  readonly controller = new AbortController();
  readonly outcome: Promise<string>;
  resolve!: (text: string) => void;
  reject!: (error: Error) => void;
  done = false;
  started = false;
  cancelled = false;
  hostCalls = 0;
  emitBytes = 0;
  pendingOps = 0;
  nextOpId = 1;
  /** Entries into the isolate queued or running; they run one at a time. */
  segmentsQueued = 0;
  segments: Promise<void> = Promise.resolve();
  ops: Promise<void> = Promise.resolve();
  cpuStart = 0n;
  /** The hook's report, applied when the entry that sent it ends without error. */
  reported: (() => void) | undefined;
  context: ivm.Context | undefined;
  entry: ivm.Reference<EntryFn> | undefined;
  loaded: ivm.Reference<unknown> | undefined;
  timers: { watchdog?: NodeJS.Timeout; wall?: NodeJS.Timeout } = {};
  detachAbort: () => void = noop;
  unbridge: () => void = noop;

  constructor(
    readonly vm: Vm,
    readonly kind: RunKind,
    readonly call: SandboxCall | undefined,
  ) {
    this.outcome = new Promise<string>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.outcome.catch(noop); // the caller gets it; never an unhandled rejection here
  }
}

type CatastrophicHandler = (message: string, personality: string) => void;

/** Exit code after an isolated-vm catastrophic error (EX_SOFTWARE), so that a supervisor restarts the host. */
export const CATASTROPHIC_EXIT_CODE = 70;

let catastrophicHandler: CatastrophicHandler = (message, personality) => {
  process.stderr.write(`lollms-host: isolated-vm catastrophic error in personality "${personality}": ${message}; exiting\n`);
  process.exit(CATASTROPHIC_EXIT_CODE);
};

/**
 * Route isolated-vm's `onCatastrophicError` (v8 lost control of an isolate: a script that ignored termination
 * for 5 s, or an out-of-memory inside v8) to `logger`, then exit non-zero: the isolate's thread and memory are
 * unrecoverable, so only a restart makes the host healthy again. Until this is called, such an error is
 * written to stderr and the process exits the same way. Returns the installed handler (for tests).
 */
export function installCatastrophicErrorHandler(
  logger: SandboxLogger,
  exit: (code: number) => void = (code) => process.exit(code),
): CatastrophicHandler {
  catastrophicHandler = (message, personality) => {
    try {
      const log = logger.fatal ?? logger.error;
      log.call(logger, { personality, error: message }, `isolated-vm catastrophic error in personality "${personality}": ${message}; exiting so that a supervisor restarts the host`);
    } finally {
      exit(CATASTROPHIC_EXIT_CODE);
    }
  };
  return catastrophicHandler;
}

/**
 * Throw `LH_ERR_SANDBOX_NODE_SNAPSHOT` unless node runs with `--no-node-snapshot` (on the command line or in
 * NODE_OPTIONS): isolated-vm 7 on Node 24 can crash without it.
 */
export function assertNoNodeSnapshot(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): void {
  if (execArgv.includes('--no-node-snapshot')) return;
  if (/(^|\s)--no-node-snapshot(\s|$)/.test(nodeOptions ?? '')) return;
  throw SandboxNodeSnapshot(
    'processor sandboxes need node started with --no-node-snapshot (isolated-vm crashes without it); run `node --no-node-snapshot ...`',
  );
}

/**
 * The isolate, queue and bridge behind a `ProcessorSandbox`.
 *
 * Every call gets a fresh context in the sandbox's isolate: the bootstrap runs, then the processor's module
 * code, then the hook. Module-level state therefore lives for one call only and never leaks between clients
 * or calls; the isolate (and its compiled code) is reused until a fault, then replaced before the next call.
 */
class SandboxEngine {
  readonly #wrapped: string;
  readonly #filename: string;
  readonly #config: string;
  #vm: Vm | undefined;
  #isolates = 0;
  active: Run | undefined;

  constructor(
    readonly name: string,
    code: string,
    readonly limits: Readonly<Required<SandboxLimits>>,
    readonly logger: SandboxLogger | undefined,
  ) {
    this.#wrapped = wrapGuestBundle(code);
    this.#filename = `file:///personalities/${encodeURIComponent(name)}/scripts/processor.js`;
    this.#config = JSON.stringify({ ...intrinsicGuards(limits), maxPayloadBytes: limits.maxPayloadBytes, maxEmitBytes: limits.maxEmitBytes });
  }

  get isolatesCreated(): number {
    return this.#isolates;
  }

  /** Start a call; `outcome` settles when the hook is done, `drained` once the isolate is idle again. */
  start(kind: RunKind, json: RunJson, call: SandboxCall | undefined): { outcome: Promise<string>; drained: Promise<void> } {
    const ready = this.#ensureVm();
    let outcomeOf: (run: Run) => void = noop;
    const outcome = new Promise<string>((resolve, reject) => {
      outcomeOf = (run) => run.outcome.then(resolve, reject);
      ready.catch(reject);
    });
    const drained = ready.then(
      async (vm) => {
        const run = new Run(vm, kind, call);
        outcomeOf(run);
        await this.#drive(run, json);
      },
      noop,
    );
    return { outcome, drained };
  }

  dispose(): void {
    if (this.active) this.#fail(this.active, SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`));
    this.#vm?.kill('disposed');
  }

  async #ensureVm(): Promise<Vm> {
    if (this.#vm?.alive) return this.#vm;
    this.#vm?.kill('replaced');
    const isolate = new ivm.Isolate({
      memoryLimit: this.limits.memoryLimitMb,
      onCatastrophicError: (message: string) => catastrophicHandler(message, this.name),
    });
    try {
      const script = await isolate.compileScript(this.#wrapped, { filename: this.#filename });
      this.#isolates++;
      this.#vm = new Vm(isolate, script);
      return this.#vm;
    } catch (error) {
      isolate.dispose();
      throw SandboxLoad(`personality "${this.name}": the processor does not compile in the isolate: ${errorMessage(error)}`, { cause: error });
    }
  }

  async #drive(run: Run, json: RunJson): Promise<void> {
    this.active = run;
    this.#attach(run);
    try {
      const { vm } = run;
      const context = await vm.isolate.createContext();
      run.context = context;
      const bridge = this.#bridge(run);
      await this.#enter(run, async (timeout) => {
        run.entry = (await context.evalClosure(BOOTSTRAP_SOURCE, [bridge, this.#config], {
          result: { reference: true },
          timeout,
          filename: 'lollms-host:bootstrap',
        })) as ivm.Reference<EntryFn>;
      });
      await this.#enter(run, async (timeout) => {
        run.loaded = (await vm.script.run(context, { reference: true, timeout })) as ivm.Reference<unknown>;
      });
      if (run.kind === 'describe') {
        await this.#enter(run, async (timeout) => {
          const json = await run.entry!.apply(undefined, ['describe', run.loaded!.derefInto()], { result: { copy: true }, timeout });
          this.#finish(run, typeof json === 'string' ? json : '');
        });
      } else {
        await this.#enter(run, (timeout) =>
          run.entry!.apply(undefined, ['start', run.loaded!.derefInto(), run.kind, json.input, json.settings, json.personality], { timeout }),
        );
        run.started = true;
        this.#checkStalled(run);
      }
    } catch (error) {
      this.#onSegmentError(run, error);
    }
    await run.outcome.catch(noop);
    // The isolate may still be finishing (an abort push, code after the result was reported): wait, bounded
    // by the watchdog, so the next call starts on an idle isolate.
    for (let seen = run.segments; ; seen = run.segments) {
      await seen;
      if (seen === run.segments) break;
    }
    this.#detach(run);
    if (this.active === run) this.active = undefined;
  }

  /**
   * The guest's only way out. The isolate may keep the callback alive until its next full GC, long after
   * the call ended, so it reaches the call through a slot that `#detach` empties: a finished call (its
   * input, results, timers) is not retained by a stale callback.
   */
  #bridge(run: Run): ivm.Callback {
    const slot: { run: Run | undefined } = { run };
    run.unbridge = () => (slot.run = undefined);
    return new ivm.Callback((op: unknown, payload: unknown) =>
      slot.run ? this.#onGuestCall(slot.run, op, payload) : replyError('Error', 'this processor call has finished'),
    );
  }

  /** Timers and the cancel listener of one call. */
  #attach(run: Run): void {
    run.cpuStart = run.vm.cpuTime();
    const budgetNs = BigInt(this.limits.cpuTimeMs + WATCHDOG_GRACE_MS) * 1_000_000n;
    // The watchdog covers what the per-entry timeout cannot: code isolated-vm runs outside it (copying an
    // unhandled rejection's message, microtasks after a task), and CPU summed over many entries.
    run.timers.watchdog = setInterval(() => {
      if (!run.vm.alive) return;
      if (run.vm.cpuTime() - run.cpuStart > budgetNs) this.#breach(run, sandboxErrors.cpu(this.name, this.limits.cpuTimeMs), 'cpu');
    }, WATCHDOG_INTERVAL_MS);
    run.timers.wall = setTimeout(() => this.#breach(run, sandboxErrors.wall(this.name, this.limits.wallTimeMs), 'wall'), this.limits.wallTimeMs);
    const signal = run.call?.signal;
    if (signal) {
      const onAbort = () => this.#cancel(run);
      signal.addEventListener('abort', onAbort, { once: true });
      run.detachAbort = () => signal.removeEventListener('abort', onAbort);
      if (signal.aborted) this.#cancel(run);
    }
  }

  #detach(run: Run): void {
    clearInterval(run.timers.watchdog);
    clearTimeout(run.timers.wall);
    run.detachAbort();
    run.unbridge();
    run.controller.abort();
    if (!run.vm.isolate.isDisposed) {
      for (const handle of [run.loaded, run.entry, run.context]) {
        try {
          handle?.release();
        } catch {
          // the isolate went away meanwhile
        }
      }
    }
  }

  #cancel(run: Run): void {
    if (run.done || run.cancelled) return;
    run.cancelled = true;
    run.controller.abort();
    // Flip ctx.signal.aborted inside the isolate; ctx calls are refused host-side from now on anyway.
    void this.#enter(run, (timeout) => run.entry?.apply(undefined, ['abort'], { timeout }) ?? Promise.resolve()).then(() =>
      this.#checkStalled(run),
    );
  }

  /** Run one entry into the isolate, after the previous ones, with what is left of the CPU budget as timeout. */
  #enter(run: Run, fn: (timeoutMs: number) => Promise<unknown>): Promise<void> {
    run.segmentsQueued++;
    const next = run.segments.then(async () => {
      try {
        if (run.done) return;
        if (!run.vm.alive) throw new Error('Isolate is disposed');
        const usedMs = Number(run.vm.cpuTime() - run.cpuStart) / 1e6;
        await fn(Math.max(1, Math.ceil(this.limits.cpuTimeMs - usedMs)));
        // The hook's result counts only once its entry ended cleanly: isolated-vm reports an unhandled
        // rejection at the end of the entry, after the result was sent.
        const settle = run.reported;
        run.reported = undefined;
        settle?.();
      } catch (error) {
        run.reported = undefined;
        this.#onSegmentError(run, error);
      } finally {
        run.segmentsQueued--;
      }
    });
    run.segments = next;
    return next;
  }

  #onSegmentError(run: Run, error: unknown): void {
    const { vm } = run;
    const message = errorMessage(error);
    // isolated-vm's own messages; a guest can only imitate them in a rejection, which costs it its isolate.
    if (message === 'Isolate was disposed during execution due to memory limit') {
      vm.kill('memory');
      this.#fail(run, sandboxErrors.memory(this.name, this.limits.memoryLimitMb));
    } else if (message === 'Script execution timed out.') {
      vm.kill('cpu');
      this.#fail(run, sandboxErrors.cpu(this.name, this.limits.cpuTimeMs));
    } else if (vm.killed === 'disposed') {
      this.#fail(run, SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`));
    } else if (vm.killed === undefined && vm.isolate.isDisposed) {
      // isolated-vm disposes an isolate by itself only when it runs out of memory.
      vm.kill('memory');
      this.#fail(run, sandboxErrors.memory(this.name, this.limits.memoryLimitMb));
    } else if (vm.killed !== undefined) {
      // Killed for a breach already reported on this run.
    } else {
      // The bootstrap never throws, so this is isolated-vm reporting an unhandled rejection (or a v8 failure).
      const guest = toGuestError({ name: (error as Error | undefined)?.name, message });
      this.#fail(
        run,
        run.cancelled
          ? sandboxErrors.cancelled(this.name, guest)
          : run.kind === 'describe'
          ? SandboxLoad(`personality "${this.name}": the processor failed to load: ${guest.name}: ${guest.message}`)
          : sandboxErrors.script(this.name, `had an unhandled promise rejection in ${run.kind}`, guest),
      );
    }
  }

  /** A limit breach: fail the call and throw the isolate away. */
  #breach(run: Run, error: LollmsHostError, reason: string): void {
    run.vm.kill(reason);
    this.#fail(run, error);
  }

  #fail(run: Run, error: Error): void {
    if (run.done) return;
    run.done = true;
    run.controller.abort();
    clearTimeout(run.timers.wall);
    this.logger?.debug({ personality: this.name, hook: run.kind, err: error }, 'processor call failed');
    run.reject(error);
  }

  #finish(run: Run, text: string): void {
    if (run.done) return;
    run.done = true;
    run.controller.abort();
    clearTimeout(run.timers.wall);
    run.resolve(text);
  }

  /** Fail a call whose hook awaits something that can never settle (nothing pending on the host side). */
  #checkStalled(run: Run): void {
    if (run.done || !run.started || run.segmentsQueued > 0 || run.pendingOps > 0) return;
    this.#fail(
      run,
      sandboxErrors.script(this.name, `never finished ${run.kind}`, {
        name: 'Error',
        message: 'the hook awaits a promise that can never settle (no host call is pending)',
      }),
    );
  }

  /** The bridge: every ctx call of the guest lands here, synchronously. Never throws. */
  #onGuestCall(run: Run, op: unknown, payload: unknown): string {
    try {
      if (typeof op !== 'string' || typeof payload !== 'string') return replyError('TypeError', 'malformed host call');
      if (op === 'done') {
        this.#onDone(run, payload);
        return '';
      }
      if (op === 'oversize') {
        const [what, length] = safeParse(payload) as [unknown, unknown];
        const name = typeof what === 'string' ? what : 'value';
        const error =
          name === 'emit' || name === 'log'
            ? sandboxErrors.emit(this.name, this.limits.maxEmitBytes)
            : sandboxErrors.payload(this.name, name === 'result' ? 'result' : `ctx.${name} argument`, this.limits.maxPayloadBytes);
        this.logger?.debug({ personality: this.name, op: name, length }, 'processor payload refused by size');
        this.#breach(run, error, 'payload');
        return FATAL_REPLY;
      }
      if (run.done) return run.cancelled ? CANCELLED_REPLY : replyError('Error', 'this processor call has finished');
      if (run.cancelled) return CANCELLED_REPLY;
      if (++run.hostCalls > this.limits.maxHostCalls) {
        this.#breach(run, sandboxErrors.hostCalls(this.name, this.limits.maxHostCalls), 'host-calls');
        return FATAL_REPLY;
      }
      if (op === 'emit' || op === 'log') return this.#onMessage(run, op, payload);
      if (op === 'generate' || op === 'tokenize' || op === 'detokenize') return this.#onAsyncCall(run, op, payload);
      return replyError('TypeError', 'unknown host call');
    } catch (error) {
      if (error instanceof BadPayload) return replyError('TypeError', error.message);
      this.logger?.warn({ personality: this.name, err: error }, 'processor host call failed');
      return replyError('Error', `the host failed: ${errorMessage(error)}`);
    }
  }

  #onMessage(run: Run, op: 'emit' | 'log', payload: string): string {
    // Counted as the JSON that crossed (text plus metadata), so the host's work is bounded by it.
    const bytes = payload.length > this.limits.maxEmitBytes ? payload.length : Buffer.byteLength(payload);
    if (run.emitBytes + bytes > this.limits.maxEmitBytes) {
      this.#breach(run, sandboxErrors.emit(this.name, this.limits.maxEmitBytes), 'emit');
      return FATAL_REPLY;
    }
    run.emitBytes += bytes;
    if (op === 'log') {
      const { level, message } = decodeLog(payload);
      if (run.call) run.call.host.log(level, message);
      else this.logger?.[level]({ personality: this.name }, message);
      return OK_NULL;
    }
    if (!run.call) return replyError('Error', 'messages cannot be sent while the processor loads');
    const { type, content, metadata } = decodeEmit(payload);
    run.call.host.emit(type, content, metadata);
    return OK_NULL;
  }

  #onAsyncCall(run: Run, op: AsyncOp['op'], payload: string): string {
    if (!run.call) return replyError('Error', 'ctx is not available while the processor loads');
    const max = this.limits.maxPayloadBytes;
    if (payload.length > max || (payload.length * 3 > max && Buffer.byteLength(payload) > max)) {
      this.#breach(run, sandboxErrors.payload(this.name, `ctx.${op} argument`, max), 'payload');
      return FATAL_REPLY;
    }
    let request: AsyncOp;
    if (op === 'generate') request = { op, ...decodeGenerate(payload) };
    else if (op === 'tokenize') request = { op, text: decodeTokenize(payload) };
    else request = { op, tokens: decodeDetokenize(payload) };
    const id = run.nextOpId++;
    run.pendingOps++;
    // One host operation at a time per call: a workflow cannot start many generations at once.
    run.ops = run.ops.then(() => this.#perform(run, id, request));
    return JSON.stringify({ ok: true, value: id });
  }

  async #perform(run: Run, id: number, request: AsyncOp): Promise<void> {
    let ok = true;
    let value: unknown;
    try {
      if (run.done) return;
      if (run.cancelled) throw new Error('cancelled');
      const host = run.call!.host;
      if (request.op === 'generate') {
        value = await host.generate(request.prompt, request.options, run.controller.signal);
        if (typeof value !== 'string') throw new TypeError('the host generate returned no text');
      } else if (request.op === 'tokenize') {
        const tokens = await host.tokenize(request.text);
        value = Array.from(tokens, Number);
      } else {
        value = await host.detokenize(request.tokens);
        if (typeof value !== 'string') throw new TypeError('the host detokenize returned no text');
      }
      if (run.cancelled) throw new Error('cancelled');
    } catch (error) {
      ok = false;
      const code = (error as { code?: unknown } | undefined)?.code;
      value = run.cancelled ? CANCELLED_ERROR : { name: 'Error', message: errorMessage(error), ...(typeof code === 'string' ? { code } : {}) };
    } finally {
      if (!run.done) {
        const json = JSON.stringify(value ?? null);
        await this.#enter(run, (timeout) => run.entry!.apply(undefined, ['settle', id, ok, json], { timeout }));
      }
      run.pendingOps--;
      this.#checkStalled(run);
    }
  }

  #onDone(run: Run, payload: string): void {
    if (run.done || run.reported) return;
    const report = safeParse(payload) as { ok?: unknown; value?: unknown; error?: unknown; phase?: unknown } | undefined;
    run.reported = () => {
      if (run.cancelled) {
        this.#fail(run, sandboxErrors.cancelled(this.name, report?.ok === true ? undefined : toGuestError(report?.error)));
      } else if (report?.ok === true && typeof report.value === 'string') {
        if (Buffer.byteLength(report.value) > this.limits.maxPayloadBytes) {
          this.#breach(run, sandboxErrors.payload(this.name, 'result', this.limits.maxPayloadBytes), 'payload');
        } else {
          this.#finish(run, report.value);
        }
      } else {
        const guest = toGuestError(report?.error);
        this.#fail(
          run,
          report?.phase === 'load'
            ? SandboxLoad(`personality "${this.name}": the processor failed to load: ${guest.name}: ${guest.message}`)
            : sandboxErrors.script(this.name, `threw in ${run.kind}`, guest),
        );
      }
    };
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    return undefined;
  }
}

/**
 * A personality's processor script, running in its own isolated-vm isolate with hard limits.
 *
 * - `create` compiles nothing (give it `compileProcessor`'s bundle); it builds the isolate and does a trial
 *   load, which reads the hooks and the settings template.
 * - `run` calls one hook. Calls are served one at a time per sandbox, in order; each gets a fresh context, so
 *   module-level state of the processor lasts for one call (it never leaks between clients).
 * - After a timeout, a memory overflow, a limit breach or `dispose`, the isolate is thrown away; the next call
 *   builds a new one. A guest exception only fails its call.
 * - `dispose()` frees the isolate; calls waiting or running fail with `LH_ERR_SANDBOX_DISPOSED`.
 */
export class ProcessorSandbox {
  readonly name: string;
  readonly limits: Readonly<Required<SandboxLimits>>;
  /** Which hooks the processor defines. */
  readonly hooks: Readonly<Record<ProcessorHook, boolean>>;
  /** The processor's `settings` template, as the guest declared it (validate it with the personality's rules). */
  readonly settingsTemplate: Readonly<Record<string, SettingTemplate>>;
  readonly #engine: SandboxEngine;
  readonly #maxQueued: number;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  #disposed = false;

  private constructor(engine: SandboxEngine, hooks: Record<ProcessorHook, boolean>, settings: Record<string, SettingTemplate>, maxQueued: number) {
    this.#engine = engine;
    this.name = engine.name;
    this.limits = engine.limits;
    this.hooks = Object.freeze(hooks);
    this.settingsTemplate = Object.freeze(settings);
    this.#maxQueued = maxQueued;
  }

  /**
   * Build the isolate and trial-load the processor. Fails with `LH_ERR_SANDBOX_LOAD` when the script throws
   * while loading or its default export is not an object, or with the limit's code when loading breaches one.
   */
  static async create(options: ProcessorSandboxOptions): Promise<ProcessorSandbox> {
    assertNoNodeSnapshot();
    const limits = resolveLimits(options.limits);
    const engine = new SandboxEngine(options.name, options.code, limits, options.logger);
    let json: string;
    try {
      json = await engine.start('describe', { input: 'null', settings: '{}', personality: '{}' }, undefined).outcome;
    } catch (error) {
      engine.dispose();
      throw error;
    }
    const described = safeParse(json) as { ok?: unknown; hooks?: Record<string, unknown>; settings?: unknown; error?: unknown } | undefined;
    if (described?.ok !== true) {
      engine.dispose();
      const guest = toGuestError(described?.error);
      throw SandboxLoad(`personality "${options.name}": the processor failed to load: ${guest.name}: ${guest.message}`);
    }
    const hooks = Object.fromEntries(PROCESSOR_HOOKS.map((h) => [h, described.hooks?.[h] === true])) as Record<ProcessorHook, boolean>;
    const settings = safeParse(typeof described.settings === 'string' ? described.settings : '{}');
    const problem = settingsShapeProblem(settings);
    if (problem) {
      engine.dispose();
      throw SandboxLoad(`personality "${options.name}": the processor's settings template is invalid: ${problem}`);
    }
    return new ProcessorSandbox(engine, hooks, settings as Record<string, SettingTemplate>, options.maxQueuedCalls ?? 32);
  }

  /** Isolates built so far: 1 after `create`, one more after each fault that threw an isolate away. */
  get isolatesCreated(): number {
    return this.#engine.isolatesCreated;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Call one hook and return its text. `input` is the text for `processModelInput`/`processModelOutput`, and
   * `{prompt, previousDiscussion}` for `runWorkflow`. Rejects with a coded error: the limit's code on a breach,
   * `LH_ERR_SANDBOX_SCRIPT` when the hook throws, `LH_ERR_ABORTED` when `call.signal` aborted,
   * `LH_ERR_SANDBOX_NO_HOOK`, `LH_ERR_SANDBOX_BUSY` or `LH_ERR_SANDBOX_DISPOSED`.
   */
  async run(hook: ProcessorHook, input: string | WorkflowInput, call: SandboxCall): Promise<string> {
    if (this.#disposed) throw SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`);
    if (!PROCESSOR_HOOKS.includes(hook)) throw new TypeError(`unknown processor hook ${String(hook)}`);
    if (!this.hooks[hook]) throw SandboxNoHook(`personality "${this.name}": the processor has no ${hook} hook`);
    const json: RunJson = {
      input: JSON.stringify(hookInput(hook, input)),
      settings: JSON.stringify(call.settings ?? {}),
      personality: JSON.stringify(call.personality ?? {}),
    };
    if (call.signal.aborted) throw sandboxErrors.cancelled(this.name);
    if (this.#waiting >= this.#maxQueued) {
      throw SandboxBusy(`personality "${this.name}": ${this.#waiting} processor calls are already waiting`);
    }
    this.#waiting++;
    const previous = this.#tail;
    let release: () => void = noop;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await waitTurn(previous, call.signal);
    } catch {
      // Leaving the queue: whoever is behind waits for our predecessor instead.
      void previous.then(release);
      throw sandboxErrors.cancelled(this.name);
    } finally {
      this.#waiting--;
    }
    if (this.#disposed) {
      release();
      throw SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`);
    }
    const { outcome, drained } = this.#engine.start(hook, json, call);
    void drained.then(release, release);
    return outcome;
  }

  /** Free the isolate. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#engine.dispose();
  }
}

function hookInput(hook: ProcessorHook, input: string | WorkflowInput): string | WorkflowInput {
  if (hook === 'runWorkflow') {
    if (typeof input !== 'object' || input === null || typeof input.prompt !== 'string' || typeof input.previousDiscussion !== 'string') {
      throw new TypeError('runWorkflow takes {prompt, previousDiscussion} strings');
    }
    return { prompt: input.prompt, previousDiscussion: input.previousDiscussion };
  }
  if (typeof input !== 'string') throw new TypeError(`${hook} takes a string`);
  return input;
}

function waitTurn(previous: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    void previous.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

const SETTING_TYPES = new Set(['int', 'float', 'str', 'bool', 'list']);

/** The shape a settings template must have to be handed to the host (values are validated elsewhere). */
function settingsShapeProblem(settings: unknown): string | undefined {
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) return 'settings must be an object';
  for (const [name, entry] of Object.entries(settings)) {
    if (entry === null || typeof entry !== 'object' || !SETTING_TYPES.has((entry as { type?: unknown }).type as string)) {
      return `setting "${name}": type must be one of int, float, str, bool, list`;
    }
  }
  return undefined;
}
