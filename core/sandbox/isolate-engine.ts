import { Buffer } from 'node:buffer';
import ivm from 'isolated-vm';
import { errorMessage, type LollmsHostError, SandboxDisposed, SandboxLoad } from '../errors.js';
import { BadPayload, BOOTSTRAP_SOURCE, CodedPayload, decodeEmit, decodeLog, GUEST_GLOBAL_NAME, wrapGuestBundle } from './bootstrap.js';
import { decodeAsyncOp, HOST_OPS, performAsyncOp, type AsyncOp } from './host-ops.js';
import { failureLogLevel, guestSafeError, sandboxErrors, toGuestError, type GuestError, type HostOpError } from './errors.js';
import type { HostOpName, RunJson, RunKind, WireBudget } from './protocol.js';
import { intrinsicGuards, type SandboxLimits } from './limits.js';
import { onCatastrophicError } from './process-guards.js';
import { bundleFilename } from './source-map.js';
import { CallCpuMeter, nsToMs } from './cpu-meter.js';
import type { ProcessorHook, SandboxBudget, SandboxCall, SandboxHostApi, SandboxLogger } from './types.js';

/**
 * The isolate side of a processor sandbox. It runs inside a sandbox process (`worker.ts`), never in the host
 * process: see `ProcessorSandbox` in `processor-sandbox.ts` for why and for the host side.
 */

const WATCHDOG_INTERVAL_MS = 10;
/** How far past its CPU budget a call may get before the watchdog disposes the isolate. */
const WATCHDOG_GRACE_MS = 20;
/**
 * How long an isolate may keep running after it was told to stop. A few V8 builtins (BigInt toString, some
 * string and ICU operations on huge strings) do not check for termination; isolated-vm would wait 5 s and
 * then raise a catastrophic error. We give up earlier and let the sandbox process end itself.
 */
export const STUCK_AFTER_KILL_MS = 750;
/** Asynchronous host calls (ctx.generate, ctx.chat, ctx.store...) that may be in flight at once in one hook call. */
export const MAX_PENDING_OPS = 16;
const OK_NULL = JSON.stringify({ ok: true, value: null });
const FATAL_REPLY = JSON.stringify({
  ok: false,
  error: { name: 'SandboxLimitError', message: 'the processor exceeded a sandbox limit and is being stopped' },
});
const CANCELLED_ERROR = { name: 'CancelledError', message: 'The generation was cancelled', code: 'LH_ERR_CANCELLED' };
const CANCELLED_REPLY = JSON.stringify({ ok: false, error: CANCELLED_ERROR });
const replyError = (name: string, message: string, code?: string) => JSON.stringify({ ok: false, error: { name, message, ...(code === undefined ? {} : { code }) } });
const noop = () => {};

type EntryFn = (op: string, ...args: unknown[]) => unknown;

/** What a hook call ends with: its text, and the `ctx.state` it left (JSON) when it returned normally. */
export interface RunOutput {
  text: string;
  state?: string;
}

/** Options of `SandboxEngine`. */
export interface EngineOptions {
  /** Make each call's context while the isolate is idle, before the call (`#makeContextAhead`). Default true. */
  contextsAhead?: boolean;
}

/** What the engine reports up besides results: a stuck isolate, which only a new process can clear. */
export interface EngineHooks {
  onStuck(reason: string): void;
  /** Places a guest error in the author's code (`GuestErrorLocator.locate`); errors stay unplaced without it. */
  locate?(guest: GuestError): GuestError;
}


/**
 * The host's own processor, run by `SandboxEngine.warmUp`: a trial load and one hook call through the same
 * paths as a personality's (context, bootstrap, bridge, an async host operation, a message, `ctx.state`).
 */
const WARM_UP_PROCESSOR = `var ${GUEST_GLOBAL_NAME} = { default: { async runWorkflow(input, ctx) {
  ctx.step('warm');
  ctx.state.tokens = (await ctx.tokenize(input.prompt)).length;
  return input.prompt;
} } };`;

/** What the warm-up processor reaches: nothing leaves the sandbox process. */
const WARM_UP_HOST = {
  tokenize: async () => [],
  emit: noop,
  log: noop,
} as unknown as SandboxHostApi;

/** The warm-up is host code on an empty isolate: past this it is abandoned, and the sandbox starts cold. */
const WARM_UP_LIMIT_MS = 5_000;

/** How a bridge reaches its call: emptied when the call ends (`Run.unbridge`); empty until a context made ahead is taken. */
interface BridgeSlot {
  run: Run | undefined;
}

/** The script name of the bootstrap in guest stacks. */
const BOOTSTRAP_FILENAME = 'lollms-host:bootstrap';
/** The bootstrap is host code that runs in about a millisecond: a context made ahead that takes this long is dropped. */
const CONTEXT_AHEAD_TIMEOUT_MS = 1_000;

/** A context made before its call (`SandboxEngine.#makeContextAhead`): the bootstrap ran in it, nothing else. */
interface ContextAhead {
  isolate: ivm.Isolate;
  context: ivm.Context;
  entry: ivm.Reference<EntryFn>;
  slot: BridgeSlot;
}

function releaseContextAhead(ahead: ContextAhead): void {
  if (ahead.isolate.isDisposed) return;
  for (const handle of [ahead.entry, ahead.context]) {
    try {
      handle.release();
    } catch {
      // the isolate went away meanwhile
    }
  }
}

/** One isolate and the processor compiled in it. Thrown away after any timeout, memory overflow or breach. */
class Vm {
  killed: string | undefined;
  /** When `kill` was called (ms since epoch). */
  killedAt = 0;

  constructor(
    readonly isolate: ivm.Isolate,
    readonly script: ivm.Script,
  ) {}

  get alive(): boolean {
    return this.killed === undefined && !this.isolate.isDisposed;
  }

  /** Clock time spent inside the isolate, in ns (0 once disposed): when it advances, the isolate ran. */
  wallTime(): bigint {
    try {
      return this.isolate.isDisposed ? 0n : this.isolate.wallTime;
    } catch {
      return 0n;
    }
  }

  kill(reason: string): void {
    if (this.killed !== undefined) return;
    this.killed = reason;
    this.killedAt = Date.now();
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
  readonly outcome: Promise<RunOutput>;
  resolve!: (output: RunOutput) => void;
  reject!: (error: Error) => void;
  done = false;
  started = false;
  cancelled = false;
  pendingOps = 0;
  nextOpId = 1;
  /** Entries into the isolate queued or running; they run one at a time. */
  segmentsQueued = 0;
  segments: Promise<void> = Promise.resolve();
  ops: Promise<void> = Promise.resolve();
  /** The CPU this call is charged (`cpu-meter.ts`); made when the call's timers start. */
  cpu: CallCpuMeter | undefined;
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
    /** Counters shared by the hook calls of one turn; updated in place. */
    readonly budget: WireBudget,
  ) {
    this.outcome = new Promise<RunOutput>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.outcome.catch(noop); // the caller gets it; never an unhandled rejection here
  }
}

/**
 * The isolate, queue and bridge behind a `ProcessorSandbox`.
 *
 * Every call gets a fresh context in the sandbox's isolate: the bootstrap runs, then the processor's module
 * code, then the hook. Module-level state therefore lives for one call only and never leaks between clients
 * or calls; the isolate (and its compiled code) is reused until a fault, then replaced before the next call.
 */
export class SandboxEngine {
  readonly #wrapped: string;
  readonly #filename: string;
  readonly #config: string;
  #vm: Vm | undefined;
  #isolates = 0;
  #heapCeiling = Infinity;
  /** Whether the next call's context is made ahead (`#makeContextAhead`); off for the warm-up engine. */
  readonly #contextsAhead: boolean;
  #ahead: Promise<ContextAhead | undefined> | undefined;
  active: Run | undefined;

  constructor(
    readonly name: string,
    code: string,
    readonly limits: Readonly<Required<SandboxLimits>>,
    readonly logger: SandboxLogger | undefined,
    readonly hooks: EngineHooks = { onStuck: noop },
    options: EngineOptions = {},
  ) {
    this.#contextsAhead = options.contextsAhead ?? true;
    this.#wrapped = wrapGuestBundle(code);
    this.#filename = bundleFilename(name);
    this.#config = JSON.stringify({
      ...intrinsicGuards(limits),
      maxPayloadBytes: limits.maxPayloadBytes,
      maxEmitBytes: limits.maxEmitBytes,
      maxStateBytes: limits.maxStateBytes,
      maxToolRounds: limits.maxToolRounds,
    });
  }

  get isolatesCreated(): number {
    return this.#isolates;
  }

  /** Start a call; `outcome` settles when the hook is done, `drained` once the isolate is idle again. */
  start(kind: RunKind, json: RunJson, call: SandboxCall | undefined, budget: WireBudget = { hostCalls: 0, emitBytes: 0, startedAt: Date.now(), pausedMs: 0 }): { outcome: Promise<RunOutput>; drained: Promise<void> } {
    const ready = this.#ensureVm();
    let outcomeOf: (run: Run) => void = noop;
    const outcome = new Promise<RunOutput>((resolve, reject) => {
      outcomeOf = (run) => run.outcome.then(resolve, reject);
      ready.catch(reject);
    });
    const drained = ready.then(
      async (vm) => {
        const run = new Run(vm, kind, call, budget);
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

  /**
   * Charge the running call with CPU time (ns) the host spent serving one of its ctx operations; the limit is
   * checked at once. The host sends the figure with the operation's result.
   */
  chargeHostCpu(ns: number): void {
    const run = this.active;
    if (!run?.cpu || run.done) return;
    run.cpu.charge(ns);
    this.#checkCpu(run);
  }

  /**
   * Run `WARM_UP_PROCESSOR` once in an isolate with `limits`, then dispose it (a spare process, before it serves
   * anyone): the code of this process is compiled and has run, so the personality's trial load and first call
   * do not run cold. Only host code runs. False when it failed or took too long (the process then starts cold).
   */
  static async warmUp(limits: Readonly<Required<SandboxLimits>>): Promise<boolean> {
    const engine = new SandboxEngine('sandbox warm-up', WARM_UP_PROCESSOR, limits, undefined, { onStuck: noop }, { contextsAhead: false });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exercise = async (): Promise<boolean> => {
      // One call at a time, as the worker runs them: the trial load drains before the hook call starts.
      const load = engine.start('describe', { input: 'null', settings: '{}', personality: '{}', model: '{}', state: '{}' }, undefined);
      await load.outcome;
      await load.drained;
      const budget: WireBudget = { hostCalls: 0, emitBytes: 0, startedAt: Date.now(), pausedMs: 0 };
      const call: SandboxCall = { host: WARM_UP_HOST, settings: {}, personality: {} as SandboxCall['personality'], signal: new AbortController().signal, budget };
      const { outcome, drained } = engine.start('runWorkflow', { input: JSON.stringify({ prompt: 'warm', previousDiscussion: '' }), settings: '{}', personality: '{}', model: '{}', state: '{}' }, call, budget);
      await outcome;
      await drained;
      return true;
    };
    try {
      return await Promise.race([exercise(), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), WARM_UP_LIMIT_MS)))]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      engine.dispose();
    }
  }

  async #ensureVm(): Promise<Vm> {
    if (this.#vm?.alive) return this.#vm;
    this.#vm?.kill('replaced');
    const isolate = new ivm.Isolate({
      memoryLimit: this.limits.memoryLimitMb,
      onCatastrophicError: (message: string) => onCatastrophicError(message, this.name),
    });
    try {
      const script = await isolate.compileScript(this.#wrapped, { filename: this.#filename });
      this.#isolates++;
      this.#vm = new Vm(isolate, script);
      // What isolated-vm itself allows the heap before it terminates the isolate at a full GC.
      this.#heapCeiling = Math.max(isolate.getHeapStatisticsSync().heap_size_limit, this.limits.memoryLimitMb * 1024 * 1024);
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
      const ahead = await this.#takeContextAhead(vm);
      if (ahead) {
        run.context = ahead.context;
        run.entry = ahead.entry;
        ahead.slot.run = run;
        run.unbridge = () => (ahead.slot.run = undefined);
      } else {
        const context = await vm.isolate.createContext();
        run.context = context;
        const slot: BridgeSlot = { run };
        run.unbridge = () => (slot.run = undefined);
        const bridge = this.#bridge(slot);
        await this.#enter(run, async (timeout) => {
          run.entry = (await context.evalClosure(BOOTSTRAP_SOURCE, [bridge, this.#config], {
            result: { reference: true },
            timeout,
            filename: BOOTSTRAP_FILENAME,
          })) as ivm.Reference<EntryFn>;
        });
      }
      const context = run.context;
      await this.#enter(run, async (timeout) => {
        run.loaded = (await vm.script.run(context, { reference: true, timeout })) as ivm.Reference<unknown>;
      });
      if (run.kind === 'describe') {
        await this.#enter(run, async (timeout) => {
          const json = await run.entry!.apply(undefined, ['describe', run.loaded!.derefInto()], { result: { copy: true }, timeout });
          this.#finish(run, { text: typeof json === 'string' ? json : '' });
        });
      } else {
        await this.#enter(run, (timeout) =>
          run.entry!.apply(undefined, ['start', run.loaded!.derefInto(), run.kind, json.input, json.settings, json.personality, json.model, json.state], { timeout }),
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
    this.#makeContextAhead(run.vm);
  }

  /**
   * Make the next call's context while the isolate is idle: a new context with the bootstrap evaluated in it
   * and nothing else (no guest code has run there; exactly one call will use it, then it is released), which
   * takes about half of a short call's time off the call. Made after every call, never on a killed isolate.
   */
  #makeContextAhead(vm: Vm): void {
    if (!this.#contextsAhead || !vm.alive || this.#ahead) return;
    this.#ahead = this.#createContextAhead(vm.isolate);
  }

  /** A new context of `isolate` with the bootstrap evaluated; undefined when that fails. */
  async #createContextAhead(isolate: ivm.Isolate): Promise<ContextAhead | undefined> {
    const slot: BridgeSlot = { run: undefined };
    const bridge = this.#bridge(slot);
    let context: ivm.Context | undefined;
    try {
      context = await isolate.createContext();
      const entry = (await context.evalClosure(BOOTSTRAP_SOURCE, [bridge, this.#config], {
        result: { reference: true },
        timeout: CONTEXT_AHEAD_TIMEOUT_MS,
        filename: BOOTSTRAP_FILENAME,
      })) as ivm.Reference<EntryFn>;
      return { isolate, context, entry, slot };
    } catch {
      try {
        context?.release();
      } catch {
        // the isolate went away meanwhile
      }
      return undefined;
    }
  }

  /** The context made ahead on `vm`'s isolate, once (undefined when there is none, or it is of an isolate since replaced). */
  async #takeContextAhead(vm: Vm): Promise<ContextAhead | undefined> {
    const pending = this.#ahead;
    this.#ahead = undefined;
    const ahead = await pending;
    if (!ahead) return undefined;
    if (ahead.isolate === vm.isolate && vm.alive) return ahead;
    releaseContextAhead(ahead);
    return undefined;
  }

  /**
   * The guest's only way out. The isolate may keep the callback alive until its next full GC, long after
   * the call ended, so it reaches the call through a slot that `#detach` empties: a finished call (its
   * input, results, timers) is not retained by a stale callback.
   */
  #bridge(slot: BridgeSlot): ivm.Callback {
    return new ivm.Callback((op: unknown, payload: unknown) =>
      slot.run ? this.#onGuestCall(slot.run, op, payload) : replyError('Error', 'this processor call has finished'),
    );
  }

  /** Timers and the cancel listener of one call. */
  #attach(run: Run): void {
    const vm = run.vm;
    run.cpu = new CallCpuMeter(() => vm.wallTime());
    // The watchdog enforces the CPU limit (the per-entry timeout is only the wall-time backstop): it samples
    // the CPU meter, which also sees code isolated-vm runs outside an entry (copying an unhandled rejection's
    // message, microtasks after a task), summed over all the call's entries.
    run.timers.watchdog = setInterval(() => {
      const { vm } = run;
      if (vm.killed !== undefined) {
        // Told to stop, and still inside an entry well after: a builtin that ignores termination.
        if (run.segmentsQueued > 0 && Date.now() - vm.killedAt > STUCK_AFTER_KILL_MS) {
          clearInterval(run.timers.watchdog);
          this.#fail(run, sandboxErrors.cpu(this.name, this.limits.cpuTimeMs));
          this.hooks.onStuck(`personality "${this.name}": the isolate ignored termination for ${STUCK_AFTER_KILL_MS} ms after "${vm.killed}"`);
        }
        return;
      }
      run.cpu?.sample();
      this.#checkCpu(run);
    }, WATCHDOG_INTERVAL_MS);
    this.#armWall(run);
    const signal = run.call?.signal;
    if (signal) {
      const onAbort = () => this.#cancel(run);
      signal.addEventListener('abort', onAbort, { once: true });
      run.detachAbort = () => signal.removeEventListener('abort', onAbort);
      if (signal.aborted) this.#cancel(run);
    }
  }

  /**
   * Wall time counts from the start of the turn, shared by its hook calls, less the time the turn waited for the
   * user (`pausedMs`); while a question waits for its answer (`paused`) the clock stands still.
   */
  #armWall(run: Run): void {
    clearTimeout(run.timers.wall);
    if (run.done || run.budget.paused) return;
    const wallLeft = Math.max(0, run.budget.startedAt + run.budget.pausedMs + this.limits.wallTimeMs - Date.now());
    run.timers.wall = setTimeout(() => this.#breach(run, sandboxErrors.wall(this.name, this.limits.wallTimeMs), 'wall'), wallLeft);
  }

  /** The turn's wall clock stopped or runs again (`wall` from the host): re-arm the active call's wall timer. */
  setWallClock(paused: boolean, pausedMs: number): void {
    const run = this.active;
    if (!run || run.kind === 'describe') return;
    run.budget.paused = paused;
    run.budget.pausedMs = Math.max(run.budget.pausedMs, pausedMs);
    this.#armWall(run);
  }

  /** Fail the call once its CPU (sandbox and host work) passed the limit, with a small grace for the sampling. */
  #checkCpu(run: Run): void {
    if (!run.cpu || run.done || run.vm.killed !== undefined) return;
    const used = run.cpu.used;
    if (used.totalNs <= BigInt(this.limits.cpuTimeMs + WATCHDOG_GRACE_MS) * 1_000_000n) return;
    this.#breach(run, sandboxErrors.cpu(this.name, this.limits.cpuTimeMs, { totalMs: nsToMs(used.totalNs), hostMs: nsToMs(used.hostNs) }), 'cpu');
  }

  /**
   * The per-entry timeout: the turn's wall time left (at least 1 ms). It is the backstop should the CPU watchdog
   * ever not get to run; isolated-vm measures it on the clock, so it must not be the CPU limit.
   */
  #entryTimeout(run: Run): number {
    return Math.max(1, Math.ceil(run.budget.startedAt + run.budget.pausedMs + this.limits.wallTimeMs - Date.now()));
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

  /** Run one entry into the isolate, after the previous ones; the CPU it used is charged when it ends. */
  #enter(run: Run, fn: (timeoutMs: number) => Promise<unknown>): Promise<void> {
    run.segmentsQueued++;
    const next = run.segments.then(async () => {
      try {
        if (run.done) return;
        if (!run.vm.alive) throw new Error('Isolate is disposed');
        try {
          await fn(this.#entryTimeout(run));
        } finally {
          run.cpu?.sample();
        }
        this.#checkCpu(run);
        if (run.vm.killed !== undefined) {
          run.reported = undefined;
          return;
        }
        // A single allocation can overshoot the heap limit without a GC noticing (`[].constructor(3e7)` holds
        // 240 MB and returns): check after every entry, so such an isolate never serves another entry.
        if (run.vm.alive) {
          const heap = await run.vm.isolate.getHeapStatistics().catch(() => undefined);
          if (heap && heap.used_heap_size + heap.externally_allocated_size > this.#heapCeiling) {
            run.reported = undefined;
            this.#breach(run, sandboxErrors.memory(this.name, this.limits.memoryLimitMb), 'memory');
            return;
          }
        }
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
      // The entry's timeout is the turn's wall time left (see #entryTimeout).
      vm.kill('wall');
      this.#fail(run, sandboxErrors.wall(this.name, this.limits.wallTimeMs));
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
      // Its stack has the guest's frames, then the host's: locating keeps only the author's.
      const guest = this.#locate(toGuestError({ name: (error as Error | undefined)?.name, message, stack: (error as Error | undefined)?.stack }));
      this.#fail(
        run,
        run.cancelled
          ? sandboxErrors.cancelled(this.name, guest)
          : run.kind === 'describe'
          ? sandboxErrors.load(this.name, guest)
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
    this.logger?.[failureLogLevel(error)](failureLogFields(this.name, run.kind, error), error.message);
    run.reject(error);
  }

  #locate(guest: GuestError): GuestError {
    return this.hooks.locate ? this.hooks.locate(guest) : guest;
  }

  #finish(run: Run, output: RunOutput): void {
    if (run.done) return;
    run.done = true;
    run.controller.abort();
    clearTimeout(run.timers.wall);
    run.resolve(output);
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
      if (++run.budget.hostCalls > this.limits.maxHostCalls) {
        this.#breach(run, sandboxErrors.hostCalls(this.name, this.limits.maxHostCalls), 'host-calls');
        return FATAL_REPLY;
      }
      if (op === 'emit' || op === 'log') return this.#onMessage(run, op, payload);
      if (HOST_OPS.has(op as HostOpName)) return this.#onAsyncCall(run, op as HostOpName, payload);
      return replyError('TypeError', 'unknown host call');
    } catch (error) {
      if (error instanceof CodedPayload) return replyError('Error', error.message, error.code);
      if (error instanceof BadPayload) return replyError('TypeError', error.message);
      this.logger?.warn({ personality: this.name, err: errorMessage(error) }, 'processor host call failed');
      return replyError('Error', 'the host failed to serve this ctx call (details are in the host log)');
    }
  }

  #onMessage(run: Run, op: 'emit' | 'log', payload: string): string {
    // Counted as the JSON that crossed (text plus metadata), so the host's work is bounded by it.
    const bytes = payload.length > this.limits.maxEmitBytes ? payload.length : Buffer.byteLength(payload);
    if (run.budget.emitBytes + bytes > this.limits.maxEmitBytes) {
      this.#breach(run, sandboxErrors.emit(this.name, this.limits.maxEmitBytes), 'emit');
      return FATAL_REPLY;
    }
    run.budget.emitBytes += bytes;
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

  #onAsyncCall(run: Run, op: HostOpName, payload: string): string {
    if (!run.call) return replyError('Error', 'ctx is not available while the processor loads');
    const max = this.limits.maxPayloadBytes;
    if (payload.length > max || (payload.length * 3 > max && Buffer.byteLength(payload) > max)) {
      this.#breach(run, sandboxErrors.payload(this.name, `ctx.${op} argument`, max), 'payload');
      return FATAL_REPLY;
    }
    const request = decodeAsyncOp(op, payload);
    if (run.pendingOps >= MAX_PENDING_OPS) {
      // Each waiting operation holds its payload on the host side: refuse rather than queue without end.
      this.#breach(run, sandboxErrors.pendingOps(this.name, MAX_PENDING_OPS), 'pending-ops');
      return FATAL_REPLY;
    }
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
      // A personality call continues from this turn's counters and hands back what it used.
      const counts = { hostCalls: run.budget.hostCalls, emitBytes: run.budget.emitBytes };
      const before = { ...counts };
      value = await performAsyncOp(run.call!.host, request, run.controller.signal, counts);
      run.budget.hostCalls += Math.max(0, counts.hostCalls - before.hostCalls);
      run.budget.emitBytes += Math.max(0, counts.emitBytes - before.emitBytes);
      if (run.cancelled) throw new Error('cancelled');
    } catch (error) {
      ok = false;
      value = run.cancelled ? CANCELLED_ERROR : guestSafeError(error);
    } finally {
      if (!run.done) {
        let json = JSON.stringify(value ?? null);
        // What comes back is bounded like what goes out: the guest is told, and may ask for less at once.
        if (ok && json.length > this.limits.maxPayloadBytes) {
          ok = false;
          json = JSON.stringify(guestSafeError(sandboxErrors.payload(this.name, `ctx.${request.op} result`, this.limits.maxPayloadBytes)));
        }
        await this.#enter(run, (timeout) => run.entry!.apply(undefined, ['settle', id, ok, json], { timeout }));
      }
      run.pendingOps--;
      this.#checkStalled(run);
    }
  }

  #onDone(run: Run, payload: string): void {
    if (run.done || run.reported) return;
    const report = safeParse(payload) as { ok?: unknown; value?: unknown; error?: unknown; phase?: unknown; state?: unknown } | undefined;
    run.reported = () => {
      if (run.cancelled) {
        this.#fail(run, sandboxErrors.cancelled(this.name, report?.ok === true ? undefined : toGuestError(report?.error)));
      } else if (report?.ok === true && typeof report.value === 'string') {
        const state = typeof report.state === 'string' ? report.state : undefined;
        if (Buffer.byteLength(report.value) > this.limits.maxPayloadBytes) {
          this.#breach(run, sandboxErrors.payload(this.name, 'result', this.limits.maxPayloadBytes), 'payload');
        } else if (state !== undefined && Buffer.byteLength(state) > this.limits.maxStateBytes) {
          this.#fail(run, sandboxErrors.state(this.name, this.limits.maxStateBytes));
        } else {
          this.#finish(run, { text: report.value, ...(state !== undefined ? { state } : {}) });
        }
      } else if (report?.phase === 'state') {
        // The hook returned, but its ctx.state cannot be kept (too large, or not JSON data).
        const guest = toGuestError(report.error);
        this.#fail(run, guest.code === 'LH_ERR_STATE_TOO_LARGE' ? sandboxErrors.state(this.name, this.limits.maxStateBytes, guest.message) : sandboxErrors.script(this.name, `left a ctx.state that cannot be kept after ${run.kind}`, guest));
      } else {
        const guest = this.#locate(toGuestError(report?.error));
        this.#fail(run, report?.phase === 'load' ? sandboxErrors.load(this.name, guest) : sandboxErrors.script(this.name, `threw in ${run.kind}`, guest));
      }
    };
  }
}

/**
 * What the log says of a failed call: the hook, the code and, for a script fault, where and the guest's error
 * as `error` (its stack is the author's frames only), which pino-pretty prints line by line (pino would rename
 * the type of a plain `err` record).
 */
function failureLogFields(personality: string, hook: RunKind, error: Error): Record<string, unknown> {
  const e = error as Error & { code?: string; file?: string; line?: number; column?: number };
  const fields: Record<string, unknown> = { personality, hook, code: e.code };
  if (e.file !== undefined) Object.assign(fields, { file: e.file, line: e.line, column: e.column });
  const cause = e.cause as Error | undefined;
  if (cause?.stack?.includes('\n')) fields['error'] = { type: cause.name, message: cause.message, stack: cause.stack };
  return fields;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    return undefined;
  }
}
