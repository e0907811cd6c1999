import { Buffer } from 'node:buffer';
import type { ChildProcess } from 'node:child_process';
import type { SettingTemplate, WorkflowInput } from '../../plugin-api/processor.js';
import { errorMessage, SandboxBusy, SandboxDisposed, SandboxLoad, SandboxNoHook } from '../errors.js';
import { guestSafeError, sandboxErrors, toGuestError } from './errors.js';
import type { RunJson } from './protocol.js';
import { SerialQueue } from '../util/serial.js';
import { CpuAccount } from '../util/cpu-account.js';
import { resolveLimits, type SandboxLimits } from './limits.js';
import { LogLimiter } from './log-limiter.js';
import { prepareSandboxLaunch } from './launch.js';
import { sandboxProcessReported, takeSandboxChild } from './spare-process.js';
import { assertNoNodeSnapshot } from './process-guards.js';
import type { PoolEntry, PooledSandbox, SandboxPool, SandboxStartReason } from './process-pool.js';
import { fromWireError, type FromWorker, type ToWorker, type WireBudget } from './protocol.js';
import { decodeOpArgs, performAsyncOp, type AsyncOp } from './host-ops.js';
import {
  createSandboxBudget,
  PROCESSOR_HOOKS,
  type ProcessorHook,
  type ProcessorSandboxOptions,
  type SandboxCall,
  type SandboxLogger,
} from './types.js';

const noop = () => {};
/** What a sandbox process runs: the bundle and its source map. */
type ProcessorBundle = Pick<ProcessorSandboxOptions, 'code' | 'sourceMap'>;
/** How long past its own wall limit a call may stay unanswered before the host kills the sandbox process. */
const BACKSTOP_GRACE_MS = 5_000;
/** How long a sandbox process may take to start and trial-load, beyond the CPU limit. */
const START_GRACE_MS = 30_000;
/** Sending an operation's result costs at least this much host CPU (ns) before it is charged in a message of its own. */
const CHARGE_AFTER_SEND_NS = 100_000;

/** One call in flight in a sandbox process. */
interface Pending {
  id: number;
  call: SandboxCall;
  budget: WireBudget;
  resolve(text: string): void;
  reject(error: Error): void;
  ops: Map<number, AbortController>;
  detach(): void;
  backstop: NodeJS.Timeout | undefined;
}

/**
 * One sandbox process: a child node process that holds the isolate (`worker.ts`). Everything that can take a
 * process down (a V8 fatal error in a builtin fed a huge string, a builtin that ignores termination, an
 * allocation far past the heap limit) happens there, never in the host.
 */
class SandboxProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  dead = false;
  /** Asked to end (dispose, or reclaimed by the pool): no new call goes to it. */
  retiring = false;
  isolates = 0;
  /** Why the process ended itself, as it said before exiting. */
  fatal: { reason: string; error: Error } | undefined;
  described: Promise<string>;
  /** The process ran the host's warm-up (as the spare) before the trial load. */
  warm = false;
  pending: Pending | undefined;
  /** Settles once the process finished its last call (the isolate is idle again) or ended. */
  idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = noop;
  #nextId = 1;
  #stderr = '';

  constructor(
    readonly name: string,
    bundle: ProcessorBundle,
    readonly limits: Readonly<Required<SandboxLimits>>,
    readonly logger: SandboxLogger | undefined,
    /** The personality's share of the host log (issue 11), shared by all its processes. */
    readonly logGate: LogLimiter,
  ) {
    this.child = takeSandboxChild(limits);
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      // Kept short: V8 fatal errors print a native stack here.
      if (this.#stderr.length < 4000) this.#stderr += chunk;
    });
    let described: (json: string) => void = noop;
    let notDescribed: (error: Error) => void = noop;
    this.described = new Promise<string>((resolve, reject) => {
      described = resolve;
      notDescribed = reject;
    });
    this.described.catch(noop);
    const startTimer = setTimeout(() => {
      notDescribed(SandboxLoad(`personality "${name}": the processor's sandbox process did not start in time`));
      this.kill();
    }, limits.cpuTimeMs + START_GRACE_MS);
    this.exited = new Promise<void>((resolve) => {
      this.child.once('exit', (code, signal) => {
        clearTimeout(startTimer);
        sandboxProcessReported();
        this.dead = true;
        const why = this.fatal?.reason ?? (signal ? `killed by ${signal}` : `exit code ${String(code)}`);
        if (this.#stderr.trim()) this.logger?.warn({ personality: name, stderr: this.#stderr.trim().slice(0, 2000) }, 'sandbox process wrote to stderr');
        if (this.fatal || code !== 0) this.logger?.warn({ personality: name, reason: why }, 'sandbox process ended');
        const error = this.fatal?.error ?? sandboxErrors.crashed(name, why);
        notDescribed(this.fatal ? SandboxLoad(`personality "${name}": the processor failed to load: ${error.message}`) : error);
        const pending = this.pending;
        if (pending) this.#settle(pending, () => pending.reject(error));
        this.#markIdle();
        resolve();
      });
    });
    this.child.on('error', (error) => this.logger?.warn({ personality: name, err: errorMessage(error) }, 'sandbox process error'));
    this.child.on('message', (message: FromWorker) => {
      if (message?.t === 'described') {
        clearTimeout(startTimer);
        sandboxProcessReported();
        this.isolates = message.isolates;
        if (message.ok) this.warm = message.warm === true;
        if (message.ok) described(message.json);
        else notDescribed(fromWireError(message.error));
        return;
      }
      this.#onMessage(message);
    });
    this.#send({ t: 'init', name, code: bundle.code, ...(bundle.sourceMap === undefined ? {} : { sourceMap: bundle.sourceMap }), limits: { ...limits } });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  #send(message: ToWorker): void {
    if (this.dead || !this.child.connected) return;
    this.child.send(message, (error) => {
      if (error) this.logger?.debug({ personality: this.name, err: errorMessage(error) }, 'sandbox process message not sent');
    });
  }

  kill(): void {
    if (!this.dead) this.child.kill('SIGKILL');
  }

  /** Run one hook call; the process serves one at a time (the caller queues). */
  run(kind: ProcessorHook, json: RunJson, call: SandboxCall): Promise<string> {
    if (this.dead) return Promise.reject(sandboxErrors.crashed(this.name, 'not running'));
    const id = this.#nextId++;
    this.idle = new Promise<void>((resolve) => (this.#markIdle = resolve));
    const budget = call.budget ?? createSandboxBudget();
    const clock = budget.clock;
    const wire: WireBudget = {
      hostCalls: budget.hostCalls,
      emitBytes: budget.emitBytes,
      startedAt: budget.startedAt,
      pausedMs: clock?.pausedMs ?? 0,
      ...(clock?.paused ? { paused: true } : {}),
    };
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => this.#send({ t: 'cancel', id });
      call.signal.addEventListener('abort', onAbort, { once: true });
      // The turn's wall clock stands still while a question waits for the user: tell the process, and the backstop.
      const unsubscribe = clock?.subscribe(() => {
        if (this.pending !== pending) return;
        this.#send({ t: 'wall', id, paused: clock.paused, pausedMs: clock.pausedMs });
        this.#armBackstop(pending);
      });
      const pending: Pending = {
        id,
        call,
        budget: wire,
        resolve,
        reject,
        ops: new Map(),
        detach: () => {
          call.signal.removeEventListener('abort', onAbort);
          unsubscribe?.();
        },
        backstop: undefined,
      };
      this.pending = pending;
      this.#armBackstop(pending);
      this.#send({ t: 'run', id, kind, json, budget: wire });
      if (call.signal.aborted) onAbort();
    }).finally(() => {
      // Counters of the turn, as the process left them (or as far as we know after a crash).
      if (call.budget) {
        call.budget.hostCalls = Math.max(call.budget.hostCalls, this.#lastBudget?.hostCalls ?? 0);
        call.budget.emitBytes = Math.max(call.budget.emitBytes, this.#lastBudget?.emitBytes ?? 0);
      }
    });
  }

  #lastBudget: WireBudget | undefined;

  /** The process answers every call within its limits; one that does not is killed. Off while the wall clock stands still. */
  #armBackstop(pending: Pending): void {
    clearTimeout(pending.backstop);
    pending.backstop = undefined;
    const clock = pending.call.budget?.clock;
    const wallLeft = clock ? clock.remaining(this.limits.wallTimeMs) : Math.max(0, pending.budget.startedAt + this.limits.wallTimeMs - Date.now());
    if (wallLeft === Infinity) return;
    pending.backstop = setTimeout(() => {
      this.logger?.warn({ personality: this.name }, 'sandbox process did not answer within its limits; killing it');
      this.fatal ??= { reason: 'no answer within the wall time limit', error: sandboxErrors.wall(this.name, this.limits.wallTimeMs) };
      this.kill();
    }, wallLeft + this.limits.cpuTimeMs + BACKSTOP_GRACE_MS);
  }

  #settle(pending: Pending, finish: () => void): void {
    if (this.pending !== pending) return;
    this.pending = undefined;
    clearTimeout(pending.backstop);
    pending.detach();
    for (const controller of pending.ops.values()) controller.abort();
    pending.ops.clear();
    finish();
  }

  #onMessage(message: FromWorker): void {
    if (!message || typeof message !== 'object') return;
    if (message.t === 'fatal') {
      this.fatal = { reason: String(message.reason), error: fromWireError(message.error) };
      return;
    }
    if (message.t === 'logger') {
      const level = ['debug', 'info', 'warn', 'error', 'fatal'].includes(message.level) ? message.level : 'warn';
      const log = level === 'fatal' ? (this.logger?.fatal ?? this.logger?.error) : this.logger?.[level];
      const line = log && this.logGate.pass(String(message.msg));
      if (line !== undefined) log?.call(this.logger, { ...clipFields(this.logGate, message.obj), personality: this.name }, line);
      return;
    }
    const pending = this.pending;
    const current = pending !== undefined && 'id' in message && message.id === pending.id;
    switch (message.t) {
      case 'idle':
        if (message.id === this.#nextId - 1) this.#markIdle();
        return;
      case 'result':
        this.isolates = message.isolates;
        if (!current) return;
        this.#lastBudget = message.budget;
        if (message.ok) {
          const { state } = message;
          this.#settle(pending, () => {
            // The hook returned normally: its ctx.state is the one the next hook and turn see. The size is checked
            // again here (the sandbox process is not trusted blindly); a state too large fails the hook, as there.
            if (typeof state === 'string' && pending.call.state) {
              if (Buffer.byteLength(state) > this.limits.maxStateBytes) {
                pending.reject(sandboxErrors.state(this.name, this.limits.maxStateBytes));
                return;
              }
              pending.call.state.json = state;
            }
            pending.resolve(message.text);
          });
        }
        else this.#settle(pending, () => pending.reject(fromWireError(message.error)));
        return;
      case 'emit':
        if (current && typeof message.content === 'string' && typeof message.type === 'number') {
          pending.call.host.emit(message.type, message.content, message.metadata ?? {});
        }
        return;
      case 'log': {
        const line = typeof message.message === 'string' ? this.logGate.pass(message.message) : undefined;
        if (line === undefined) return;
        if (current) pending.call.host.log(message.level, line);
        else this.logger?.info({ personality: this.name, source: 'processor' }, line);
        return;
      }
      case 'op':
        if (current) this.#perform(pending, message);
        else this.#send({ t: 'op-result', id: message.id, opId: message.opId, ok: false, error: { name: 'Error', message: 'this processor call has finished' } });
        return;
      case 'op-abort':
        if (current) pending.ops.get(message.opId)?.abort();
        return;
    }
  }

  #perform(pending: Pending, message: Extract<FromWorker, { t: 'op' }>): void {
    const controller = new AbortController();
    pending.ops.set(message.opId, controller);
    const { host } = pending.call;
    // Host CPU spent for the operation, charged to the processor's CPU limit (issue 11 §3).
    const cpu = new CpuAccount();
    const work = cpu.measure(() => (async (): Promise<unknown> => {
      const args = Array.isArray(message.args) ? message.args : [];
      // A personality call carries the caller's counters as its third argument, and takes the called turn's back.
      const counts = message.op === 'callPersonality' ? wireCounts(args[2]) : { hostCalls: 0, emitBytes: 0 };
      const request: AsyncOp = decodeOpArgs(message.op, message.op === 'callPersonality' ? args.slice(0, 2) : args);
      const value = await performAsyncOp(host, request, controller.signal, counts, cpu);
      return message.op === 'callPersonality' ? { text: value, hostCalls: counts.hostCalls, emitBytes: counts.emitBytes } : value;
    })());
    const reply = (result: Extract<ToWorker, { t: 'op-result' }>) => {
      const before = cpu.ns;
      cpu.measure(() => this.#send({ ...result, cpuNs: before }));
      // Encoding a large result for the channel is work for the processor too: charged right after.
      if (cpu.ns - before >= CHARGE_AFTER_SEND_NS) this.#send({ t: 'charge', id: message.id, cpuNs: cpu.ns - before });
    };
    work.then(
      (value) => {
        pending.ops.delete(message.opId);
        reply({ t: 'op-result', id: message.id, opId: message.opId, ok: true, value });
      },
      (error: unknown) => {
        pending.ops.delete(message.opId);
        const safe = guestSafeError(error);
        if (safe.code === undefined) this.logger?.warn({ personality: this.name, op: message.op, err: errorMessage(error) }, 'processor host operation failed');
        reply({ t: 'op-result', id: message.id, opId: message.opId, ok: false, error: safe });
      },
    );
  }

  /** Ask the process to end, kill it when it does not within a second; resolves once it has exited. */
  dispose(): Promise<void> {
    if (this.dead) return this.exited;
    this.retiring = true;
    this.#send({ t: 'dispose' });
    const timer = setTimeout(() => this.kill(), 1000);
    timer.unref();
    return this.exited.then(() => clearTimeout(timer));
  }
}

/**
 * A personality's processor script, running in an isolated-vm isolate with hard limits, inside a sandbox
 * process of its own.
 *
 * - `create` compiles nothing (give it `compileProcessor`'s bundle); it starts the sandbox process, which
 *   builds the isolate and does a trial load that reads the hooks and the settings template.
 * - `run` calls one hook. Calls are served one at a time per sandbox, in order; each gets a fresh context, so
 *   module-level state of the processor lasts for one call (it never leaks between clients).
 * - After a timeout, a memory overflow, a limit breach or `dispose`, the isolate is thrown away; the next call
 *   builds a new one. A guest exception only fails its call. When the sandbox process itself ends (a V8
 *   fatal error, a builtin that ignored termination, memory far past the limit), the call fails with a coded
 *   error and the next call starts a new process.
 * - `dispose()` ends the process; calls waiting or running fail with `LH_ERR_SANDBOX_DISPOSED`.
 */
export class ProcessorSandbox implements PooledSandbox {
  readonly name: string;
  readonly limits: Readonly<Required<SandboxLimits>>;
  /** Which hooks the processor defines. */
  readonly hooks: Readonly<Record<ProcessorHook, boolean>>;
  /** The processor's `settings` template, as the guest declared it (validate it with the personality's rules). */
  readonly settingsTemplate: Readonly<Record<string, SettingTemplate>>;
  readonly #bundle: ProcessorBundle;
  readonly #logger: SandboxLogger | undefined;
  readonly #maxQueued: number;
  #process: SandboxProcess;
  #isolatesBefore = 0;
  #processes = 1;
  /** Calls are served one at a time, in order. */
  readonly #calls = new SerialQueue();
  #disposed = false;
  #disposeError: Error | undefined;
  #rejectRunning: ((error: Error) => void) | undefined;
  readonly #pool: SandboxPool | undefined;
  /** Calls running or waiting: the pool never ends the process then. */
  #inUse = 0;
  /** The current process's place in the pool. */
  #entry: PoolEntry | undefined;

  private constructor(process: SandboxProcess, bundle: ProcessorBundle, options: ProcessorSandboxOptions, hooks: Record<ProcessorHook, boolean>, settings: Record<string, SettingTemplate>) {
    this.#process = process;
    this.#bundle = bundle;
    this.#logger = options.logger;
    this.name = options.name;
    this.limits = process.limits;
    this.hooks = Object.freeze(hooks);
    this.settingsTemplate = Object.freeze(settings);
    this.#maxQueued = options.maxQueuedCalls ?? 32;
    this.#pool = options.pool;
    this.#track(process, 'load');
  }

  /** Count `proc` in the pool until it exits. */
  #track(proc: SandboxProcess, reason: SandboxStartReason): void {
    if (!this.#pool || proc.dead) return;
    const entry = this.#pool.register(this, reason);
    this.#entry = entry;
    void proc.exited.then(() => {
      entry.ended();
      if (this.#entry === entry) this.#entry = undefined;
    });
  }

  /** A call runs or waits (the pool leaves the process alone). */
  get busy(): boolean {
    return this.#inUse > 0;
  }

  /**
   * End the process while it is idle, to free its memory (the pool calls this); the next call starts a new one,
   * from the host's spare. Returns false when it is busy or not running.
   */
  reclaim(): boolean {
    const proc = this.#process;
    if (this.#disposed || this.#inUse > 0 || proc.dead || proc.retiring) return false;
    void proc.dispose();
    return true;
  }

  /** Whether the sandbox has a process running now (false after the pool reclaimed it, until the next call). */
  get running(): boolean {
    return !this.#process.dead && !this.#process.retiring;
  }

  /**
   * Start the sandbox process and trial-load the processor. Fails with `LH_ERR_SANDBOX_LOAD` when the script
   * throws while loading or its default export is not an object, or with the limit's code when loading
   * breaches one; with `LH_ERR_SANDBOX_NODE_SNAPSHOT` when node runs without `--no-node-snapshot`.
   */
  static async create(options: ProcessorSandboxOptions): Promise<ProcessorSandbox> {
    assertNoNodeSnapshot();
    const limits = resolveLimits(options.limits);
    const bundle: ProcessorBundle = { code: options.code, ...(options.sourceMap === undefined ? {} : { sourceMap: options.sourceMap }) };
    await announceLaunch(options.logger);
    const logGate = new LogLimiter({
      name: options.name,
      linesPerSecond: limits.maxLogLinesPerSecond,
      notice: (text) => options.logger?.warn({ personality: options.name }, text),
    });
    const proc = new SandboxProcess(options.name, bundle, limits, options.logger, logGate);
    let json: string;
    try {
      json = await proc.described;
    } catch (error) {
      void proc.dispose();
      throw error;
    }
    const described = safeParse(json) as { ok?: unknown; hooks?: Record<string, unknown>; settings?: unknown; error?: unknown } | undefined;
    if (described?.ok !== true) {
      void proc.dispose();
      throw sandboxErrors.load(options.name, toGuestError(described?.error));
    }
    const hooks = Object.fromEntries(PROCESSOR_HOOKS.map((h) => [h, described.hooks?.[h] === true])) as Record<ProcessorHook, boolean>;
    const settings = safeParse(typeof described.settings === 'string' ? described.settings : '{}');
    const problem = settingsShapeProblem(settings);
    if (problem) {
      void proc.dispose();
      throw SandboxLoad(`personality "${options.name}": the processor's settings template is invalid: ${problem}`);
    }
    return new ProcessorSandbox(proc, bundle, { ...options, limits }, hooks, settings as Record<string, SettingTemplate>);
  }

  /** Isolates built so far: 1 after `create`, one more after each fault that threw an isolate (or its process) away. */
  get isolatesCreated(): number {
    return this.#isolatesBefore + this.#process.isolates;
  }

  /** Sandbox processes started so far (1 after `create`). */
  get processesStarted(): number {
    return this.#processes;
  }

  /** Whether the current sandbox process ran the host's warm-up, as the spare, before it loaded this processor (diagnostics and tests). */
  get startedWarm(): boolean {
    return this.#process.warm;
  }

  /** Process id of the current sandbox process (diagnostics and tests). */
  get pid(): number | undefined {
    return this.#process.pid;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Call one hook and return its text. `input` is the text for `processModelInput`/`processModelOutput`, and
   * `{prompt, previousDiscussion}` for `runWorkflow`. Rejects with a coded error: the limit's code on a breach,
   * `LH_ERR_SANDBOX_SCRIPT` when the hook throws, `LH_ERR_CANCELLED` when `call.signal` aborted,
   * `LH_ERR_SANDBOX_CRASHED` when the sandbox process died, `LH_ERR_SANDBOX_NO_HOOK`, `LH_ERR_SANDBOX_BUSY` or
   * `LH_ERR_SANDBOX_DISPOSED`.
   */
  async run(hook: ProcessorHook, input: string | WorkflowInput, call: SandboxCall): Promise<string> {
    if (this.#disposed) throw SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`);
    if (!PROCESSOR_HOOKS.includes(hook)) throw new TypeError(`unknown processor hook ${String(hook)}`);
    if (!this.hooks[hook]) throw SandboxNoHook(`personality "${this.name}": the processor has no ${hook} hook`);
    const json: RunJson = {
      input: JSON.stringify(hookInput(hook, input)),
      settings: JSON.stringify(call.settings ?? {}),
      personality: JSON.stringify(call.personality ?? {}),
      model: JSON.stringify(call.model ?? {}),
      state: call.state?.json ?? '{}',
    };
    if (call.signal.aborted) throw sandboxErrors.cancelled(this.name);
    if (this.#calls.waiting >= this.#maxQueued) {
      throw SandboxBusy(`personality "${this.name}": ${this.#calls.waiting} processor calls are already waiting`);
    }
    this.#inUse++;
    const served = this.#calls.run(async () => {
      try {
        if (this.#disposed) throw SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`);
        const proc = await this.#live();
        return await new Promise<string>((resolve, reject) => {
          this.#rejectRunning = reject;
          proc.run(hook, json, call).then(resolve, reject);
        });
      } finally {
        this.#rejectRunning = undefined;
      }
    }, call.signal);
    // Cancelled while it waited for its turn: the coded cancel, not the signal's reason.
    return served
      .catch((error: unknown) => {
        if (call.signal.aborted && error === call.signal.reason) throw sandboxErrors.cancelled(this.name);
        const kind = violationKind(error);
        if (kind) this.#pool?.observer.violation?.(kind);
        throw error;
      })
      .finally(() => {
        this.#inUse--;
        this.#entry?.used();
      });
  }

  /** The sandbox process, started anew (with its trial load) when the last one ended. */
  async #live(): Promise<SandboxProcess> {
    // A stuck isolate ends its process shortly after its call failed: wait for the verdict.
    await this.#process.idle;
    // Reclaimed by the pool while idle: wait until it is gone, then start anew (a wake, not a crash).
    const woken = this.#process.retiring;
    if (woken) await this.#process.exited;
    if (!this.#process.dead) return this.#process;
    this.#isolatesBefore += this.#process.isolates;
    this.#process = new SandboxProcess(this.name, this.#bundle, this.limits, this.#logger, this.#process.logGate);
    this.#processes++;
    const proc = this.#process;
    this.#track(proc, woken ? 'wake' : 'restart');
    try {
      await proc.described;
    } catch (error) {
      proc.kill();
      throw SandboxLoad(`personality "${this.name}": the processor's sandbox process could not be restarted: ${errorMessage(error)}`, { cause: error });
    }
    if (this.#disposed) {
      void proc.dispose();
      throw this.#disposeError ?? SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`);
    }
    return proc;
  }

  /** End the sandbox process; resolves once it has exited. Idempotent. */
  dispose(): Promise<void> {
    if (!this.#disposed) {
      this.#disposed = true;
      this.#disposeError = SandboxDisposed(`personality "${this.name}": the processor sandbox was disposed`);
      this.#rejectRunning?.(this.#disposeError);
    }
    return this.#process.dispose();
  }
}

/** The counters a sandbox process sent with a personality call (untrusted: numbers only). */
function wireCounts(value: unknown): { hostCalls: number; emitBytes: number } {
  const v = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const n = (x: unknown) => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : 0);
  return { hostCalls: n(v['hostCalls']), emitBytes: n(v['emitBytes']) };
}

/** The sandbox limit a failed call ran into, in snake case (metrics), or undefined for other failures. */
function violationKind(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const kinds: Record<string, string> = {
    LH_ERR_SANDBOX_TIMEOUT: 'timeout',
    LH_ERR_SANDBOX_MEMORY: 'memory',
    LH_ERR_SANDBOX_HOST_CALLS: 'host_calls',
    LH_ERR_SANDBOX_EMIT: 'emit',
    LH_ERR_SANDBOX_PAYLOAD: 'payload',
    LH_ERR_SANDBOX_CRASHED: 'crashed',
  };
  return typeof code === 'string' ? kinds[code] : undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    return undefined;
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

/** The string fields of a sandbox log record cut like its line (guest error messages travel in them). */
function clipFields(gate: LogLimiter, obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj ?? {})) {
    if (typeof value === 'string') out[key] = gate.clip(value);
    else if (value && typeof value === 'object') {
      // A record that fits stays a record (pino-pretty prints it field by field); a big one becomes clipped text.
      const json = JSON.stringify(value) ?? '';
      const clipped = gate.clip(json);
      out[key] = clipped === json ? value : clipped;
    }
    else out[key] = value;
  }
  return out;
}

let announced = false;

/** Prepare the sandbox launch once and log which OS layers are in force (or why it fell back to a plain fork). */
async function announceLaunch(logger: SandboxLogger | undefined): Promise<void> {
  try {
    const { layers } = await prepareSandboxLaunch();
    if (announced) return;
    announced = true;
    const off = Object.entries(layers).filter(([, on]) => !on).map(([name]) => name);
    if (off.length === 0) logger?.info({ layers }, 'sandbox processes run without network, file writes, child processes or privileges');
    else logger?.warn({ layers }, `sandbox processes run without: ${off.join(', ')} (not available on this system; see docs/security.md)`);
  } catch (error) {
    if (announced) return;
    announced = true;
    logger?.warn({ err: errorMessage(error) }, 'the sandbox worker could not be bundled; sandbox processes start without the OS restrictions');
  }
}
