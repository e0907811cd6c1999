/**
 * A sandbox process: the entry of the child process that holds one personality's isolate (see
 * `ProcessorSandbox`). It serves the host over the IPC channel and ends itself, at once, when isolated-vm or
 * V8 lose control of the isolate, or when the process grows past its memory ceiling; the host notices the
 * exit, fails the call with a coded error and starts a new sandbox process for the next call.
 */
import { SandboxMemory, SandboxTimeout } from '../errors.js';
import { SandboxEngine } from './isolate-engine.js';
import type { HostOpError } from './errors.js';
import { sandboxErrors, describedFailure } from './errors.js';
import { resolveLimits } from './limits.js';
import { hardExit, installCatastrophicErrorHandler, CATASTROPHIC_EXIT_CODE } from './process-guards.js';
import { toWireError, type FromWorker, type HostOpName, type ToWorker, type WireError } from './protocol.js';
import { encodeOpArgs } from './host-ops.js';
import { bundleFilename, GuestErrorLocator } from './source-map.js';
import type { SandboxHostApi, SandboxLogger } from './types.js';

/** Exit code when the sandbox process ends itself (stuck isolate, memory ceiling). */
const SELF_KILL_CODE = CATASTROPHIC_EXIT_CODE;
/** How often the process checks its resident memory while the isolate runs. */
const RSS_POLL_MS = 2;

if (typeof process.send !== 'function') {
  process.stderr.write('lollms-host sandbox worker: must be started by the host (no IPC channel)\n');
  process.exit(2);
}

const send = (message: FromWorker, done?: () => void) => {
  try {
    process.send!(message, undefined, undefined, done ? () => done() : undefined);
  } catch {
    // channel closed: the host is gone, and 'disconnect' ends us
  }
};

let engine: SandboxEngine | undefined;
/** The warm-up this process ran as the host's spare (`warm`): whether it completed. */
let warming: Promise<boolean> | undefined;
let name = 'processor';
let ending = false;

/** Report why, then end the process without running anything else (isolated-vm may have parked a thread). */
function endNow(reason: string, error: WireError): void {
  if (ending) return;
  ending = true;
  const timer = setTimeout(() => hardExit(SELF_KILL_CODE, reason), 200);
  send({ t: 'fatal', reason, error }, () => {
    clearTimeout(timer);
    hardExit(SELF_KILL_CODE, reason);
  });
}

const logger: SandboxLogger = {
  debug: (obj, msg) => send({ t: 'logger', level: 'debug', obj: plain(obj), msg: msg ?? '' }),
  info: (obj, msg) => send({ t: 'logger', level: 'info', obj: plain(obj), msg: msg ?? '' }),
  warn: (obj, msg) => send({ t: 'logger', level: 'warn', obj: plain(obj), msg: msg ?? '' }),
  error: (obj, msg) => send({ t: 'logger', level: 'error', obj: plain(obj), msg: msg ?? '' }),
  fatal: (obj, msg) => send({ t: 'logger', level: 'fatal', obj: plain(obj), msg: msg ?? '' }),
};

function plain(obj: object, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v instanceof Error) out[k] = { name: v.name, message: v.message, code: (v as { code?: unknown }).code };
    else if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
    // One level of plain records (a log line's `error: {type, message, stack}`) crosses as is.
    else if (depth === 0 && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) out[k] = plain(v as object, 1);
    else out[k] = String(v);
  }
  return out;
}

installCatastrophicErrorHandler(logger, () => {
  endNow(`isolated-vm catastrophic error in personality "${name}"`, toWireError(sandboxErrors.cpu(name, engine?.limits.cpuTimeMs ?? 0)));
});

// ---- memory ceiling -------------------------------------------------------------------------------------
// V8 lets one allocation overshoot an isolate's heap limit by far (a flattened rope string of up to 1 GiB, a
// 256 MB array from `arr.length = 3e7`): isolated-vm only notices at the next GC. The process watches its own
// resident memory while the isolate runs and ends itself past `baseline + ceiling`.
let rssBaseline = 0;
let rssCeiling = Infinity;
let rssTimer: NodeJS.Timeout | undefined;
let busy = 0;

function watchMemory(on: boolean): void {
  busy += on ? 1 : -1;
  if (busy > 0 && !rssTimer) {
    rssTimer = setInterval(() => {
      const rss = process.memoryUsage.rss();
      if (rss > rssCeiling) {
        clearInterval(rssTimer);
        const mb = engine?.limits.memoryLimitMb ?? 0;
        endNow(`personality "${name}": sandbox process memory ${Math.round(rss / 1048576)} MB passed its ceiling of ${Math.round(rssCeiling / 1048576)} MB`, toWireError(SandboxMemory(sandboxErrors.memory(name, mb).message)));
      }
    }, RSS_POLL_MS);
  } else if (busy <= 0 && rssTimer) {
    clearInterval(rssTimer);
    rssTimer = undefined;
    busy = 0;
  }
}

function setCeiling(memoryLimitMb: number): void {
  rssBaseline = process.memoryUsage.rss();
  const limit = memoryLimitMb * 1024 * 1024;
  // The isolate may use its limit, plus what V8 keeps around it; past twice the limit it is an attack.
  rssCeiling = rssBaseline + Math.max(2 * limit, 24 * 1024 * 1024);
}

// ---- host operations, forwarded to the host ---------------------------------------------------------------
let nextOpId = 1;
const ops = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();

function hostOp(id: number, op: HostOpName, args: unknown[], signal?: AbortSignal): Promise<unknown> {
  const opId = nextOpId++;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      if (!ops.delete(opId)) return;
      send({ t: 'op-abort', id, opId });
      reject(new Error('cancelled'));
    };
    ops.set(opId, {
      resolve: (v) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      },
      reject: (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      },
    });
    if (signal) {
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    }
    send({ t: 'op', id, opId, op, args });
  });
}

class HostOpFailed extends Error {
  readonly code: string | undefined;
  constructor(error: HostOpError) {
    super(error.message);
    this.code = error.code;
  }
}

function hostFor(id: number): SandboxHostApi {
  return {
    generate: (prompt, options, signal) => hostOp(id, 'generate', encodeOpArgs({ op: 'generate', prompt, options }), signal),
    tokenize: (text) => hostOp(id, 'tokenize', [text]) as Promise<number[]>,
    detokenize: (tokens) => hostOp(id, 'detokenize', [tokens]) as Promise<string>,
    chat: (messages, options, signal) => hostOp(id, 'chat', encodeOpArgs({ op: 'chat', messages, options }), signal) as ReturnType<NonNullable<SandboxHostApi['chat']>>,
    embed: (texts, signal) => hostOp(id, 'embed', [texts], signal) as Promise<number[][]>,
    ask: (ask, signal) => hostOp(id, 'ask', encodeOpArgs({ op: 'ask', ask }), signal) as Promise<string>,
    // The host answers a personality call with the called turn's final counters, which this call continues from.
    callPersonality: async (path, prompt, counts, signal) => {
      const reply = (await hostOp(id, 'callPersonality', [path, prompt, { ...counts }], signal)) as { text: string; hostCalls: number; emitBytes: number };
      counts.hostCalls = reply.hostCalls;
      counts.emitBytes = reply.emitBytes;
      return reply.text;
    },
    store: (request) => hostOp(id, 'store', encodeOpArgs({ op: 'store', request })),
    emit: (type, content, metadata) => send({ t: 'emit', id, type, content, metadata }),
    log: (level, message) => send({ t: 'log', id, level, message }),
  };
}

// ---- calls ----------------------------------------------------------------------------------------------
const cancels = new Map<number, AbortController>();

async function onMessage(message: ToWorker): Promise<void> {
  switch (message.t) {
    case 'warm':
      if (engine || warming) return;
      warming = SandboxEngine.warmUp(resolveLimits(message.limits));
      send({ t: 'warmed', ok: await warming });
      return;
    case 'init': {
      // The warm-up, if any, ends first: it and the trial load never share the process's thread.
      const warm = (await warming) === true;
      name = message.name;
      const limits = resolveLimits(message.limits);
      const locator = new GuestErrorLocator({ filename: bundleFilename(message.name), ...(message.sourceMap === undefined ? {} : { sourceMap: message.sourceMap }) });
      engine = new SandboxEngine(message.name, message.code, limits, logger, {
        onStuck: (reason) => endNow(reason, toWireError(SandboxTimeout(sandboxErrors.cpu(name, limits.cpuTimeMs).message))),
        locate: (guest) => locator.locate(guest),
      });
      setCeiling(limits.memoryLimitMb);
      watchMemory(true);
      try {
        const { outcome } = engine.start('describe', { input: 'null', settings: '{}', personality: '{}', model: '{}', state: '{}' }, undefined);
        const { text: json } = await outcome;
        // A processor that loaded but is not one (a throw in its module code, a bad default export): located here.
        const failure = describedFailure(name, json, (guest) => locator.locate(guest));
        if (failure) send({ t: 'described', ok: false, error: toWireError(failure), isolates: engine.isolatesCreated });
        else send({ t: 'described', ok: true, json, isolates: engine.isolatesCreated, rss: rssBaseline, warm });
      } catch (error) {
        send({ t: 'described', ok: false, error: toWireError(error), isolates: engine.isolatesCreated });
      } finally {
        watchMemory(false);
        // The baseline includes the isolate and the module code, as loaded.
        setCeiling(limits.memoryLimitMb);
      }
      return;
    }
    case 'run': {
      if (!engine) return;
      const controller = new AbortController();
      cancels.set(message.id, controller);
      const budget = { ...message.budget };
      watchMemory(true);
      try {
        const { outcome, drained } = engine.start(message.kind, message.json, {
          host: hostFor(message.id),
          settings: {},
          personality: {} as never,
          signal: controller.signal,
          budget,
        }, budget);
        try {
          const { text, state } = await outcome;
          send({ t: 'result', id: message.id, ok: true, text, ...(state !== undefined ? { state } : {}), budget, isolates: engine.isolatesCreated });
        } catch (error) {
          send({ t: 'result', id: message.id, ok: false, error: toWireError(error), budget, isolates: engine.isolatesCreated });
        }
        // The isolate may still be stopping (or stuck, which ends this process): the host waits for 'idle'.
        await drained;
        send({ t: 'idle', id: message.id });
      } finally {
        cancels.delete(message.id);
        watchMemory(false);
      }
      return;
    }
    case 'cancel':
      cancels.get(message.id)?.abort();
      return;
    case 'wall':
      if (cancels.has(message.id)) engine?.setWallClock(message.paused === true, Number(message.pausedMs) || 0);
      return;
    case 'charge':
      if (cancels.has(message.id)) engine?.chargeHostCpu(message.cpuNs);
      return;
    case 'op-result': {
      // The host's work for the operation counts against the call's CPU limit, even when the call stopped waiting.
      if (cancels.has(message.id) && message.cpuNs !== undefined) engine?.chargeHostCpu(message.cpuNs);
      const waiter = ops.get(message.opId);
      if (!waiter) return;
      ops.delete(message.opId);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new HostOpFailed(message.error));
      return;
    }
    case 'dispose':
      engine?.dispose();
      process.exit(0);
  }
}

process.on('message', (message: ToWorker) => {
  onMessage(message).catch((error: unknown) => logger.error({ err: error instanceof Error ? error : String(error) }, 'sandbox worker failed'));
});
// The host went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
