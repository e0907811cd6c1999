import type { GuestLogLevel, SandboxGenerateOptions } from './types.js';
import { PRIMITIVES_SOURCE } from './bootstrap-primitives.js';
import { checkOutputFormat, OutputFormatError } from '../../plugin-api/output-format.js';

/**
 * The guest half of the sandbox bridge: JavaScript that runs inside each fresh context before the
 * processor's code. It is evaluated with `context.evalClosure(BOOTSTRAP_SOURCE, [bridge, config])`, so the
 * bridge (an `ivm.Callback`, `(op, payload) => replyJson`) is a closure variable of this code and never a
 * global: the guest cannot name it, and no `ivm.Reference` ever enters the isolate.
 *
 * What it does, in order, before any guest code runs:
 * 1. captures the intrinsics it relies on, so a guest that patches `JSON`, `Map` or `Promise` later cannot
 *    change how the bridge behaves;
 * 2. removes `SharedArrayBuffer`, `Atomics`, `WebAssembly`, `WeakRef`, `FinalizationRegistry`, `eval`, and
 *    replaces every `Function` constructor reachable through constructor chains with a thrower;
 * 3. guards builtins that V8 runs without checking for termination, by length (see `intrinsicGuards`);
 * 4. installs a `console` that writes to the host log (counted like `ctx.log`);
 * 5. returns `entry`, the only function the host calls (through a host-held Reference).
 *
 * Data crosses as JSON strings built here, inside the isolate and under its limits: the host never runs a
 * guest getter, `toJSON` or proxy trap. All code here is strict, so stack-trace APIs (`getFunction`,
 * `getThis`, `fn.caller`) never hand a bootstrap closure to the guest.
 *
 * Protocol, guest → host: `bridge(op, payloadJson) → replyJson` with ops `emit [type, content, metadata]`,
 * `log [level, message]`, `generate [prompt, options]`, `tokenize [text]`, `detokenize [tokens]`, and since
 * plugin API 1.1 `chat [messages, options]`, `embed [texts]`, `ask [question, choices, timeoutMs]`,
 * `callPersonality [path, prompt]`, `store [action, key, value?]` (these reply with an operation id and are
 * settled later), `oversize [op, length]` (a payload refused before it was copied) and
 * `done {ok, value | error, phase, state?}`. Reply: `{ok: true, value}` or `{ok: false, error}`.
 * Host → guest: `entry('describe', loaded)`, `entry('start', loaded, hook, inputJson, settingsJson,
 * personalityJson, modelJson, stateJson)`, `entry('settle', opId, ok, valueJson)`, `entry('abort')`.
 */
export const BOOTSTRAP_SOURCE = String.raw`
'use strict';
const bridge = $0;
const config = JSON.parse($1);
const G = globalThis;

// 1. Intrinsics, captured before guest code can patch them.
const ObjectCtor = Object;
const freeze = Object.freeze, defineProperty = Object.defineProperty, getPrototypeOf = Object.getPrototypeOf;
const getOwnPropertyNames = Object.getOwnPropertyNames, createObject = Object.create, setPrototypeOf = Object.setPrototypeOf;
const stringify = JSON.stringify, parse = JSON.parse;
const apply = Reflect.apply, construct = Reflect.construct;
const ArrayCtor = Array, isArray = Array.isArray;
const PromiseCtor = Promise, promiseReject = Promise.reject;
const MapCtor = Map, mapGet = Map.prototype.get, mapSet = Map.prototype.set, mapDelete = Map.prototype.delete;
const StringCtor = String, NumberCtor = Number;
const ErrorCtor = Error, TypeErrorCtor = TypeError, RangeErrorCtor = RangeError, EvalErrorCtor = EvalError;
const ProxyCtor = Proxy;

const toStr = (v) => (typeof v === 'string' ? v : StringCtor(v));
const own = (obj, key, value) => defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
const hidden = (obj, key, value) => defineProperty(obj, key, { value, writable: true, enumerable: false, configurable: true });
const locked = (obj, key, value) => defineProperty(obj, key, { value, writable: false, enumerable: false, configurable: false });
// Payloads are built from records and lists without a prototype: a guest that pollutes Object.prototype or
// Array.prototype (toJSON, setters, indexed getters) cannot change what the bootstrap sends.
const record = (key, value) => {
  const out = createObject(null);
  if (key !== undefined) own(out, key, value);
  return out;
};
const list = function () {
  const out = [];
  for (let i = 0; i < arguments.length; i++) own(out, i, arguments[i]);
  return setPrototypeOf(out, null);
};

// 2. Capabilities the guest must not have.
const removed = ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'WeakRef', 'FinalizationRegistry', 'eval', 'console'];
for (let i = 0; i < removed.length; i++) delete G[removed[i]];

const codegenDenied = function () {
  throw new EvalErrorCtor('code generation from strings is disabled in processors');
};
const FunctionStub = function Function() {
  return codegenDenied();
};
FunctionStub.prototype = Function.prototype; // instanceof Function keeps working
locked(Function.prototype, 'constructor', FunctionStub);
locked(getPrototypeOf(async function () {}), 'constructor', codegenDenied);
locked(getPrototypeOf(function* () {}), 'constructor', codegenDenied);
locked(getPrototypeOf(async function* () {}), 'constructor', codegenDenied);
locked(G, 'Function', FunctionStub);

// 3. Length guards on builtins that run to completion without checking for termination.
const maxLen = config.maxArrayLength, maxStr = config.maxStringLength;
const tooLong = (what, n, max) => {
  throw new RangeErrorCtor(what + ' length ' + n + ' exceeds the sandbox limit of ' + max);
};
const checkLength = (o) => {
  if (o === null || o === undefined) return;
  const n = o.length;
  if (typeof n === 'number' && n > maxLen) tooLong('array', n, maxLen);
};
const wrap = (holder, key, check) => {
  const original = holder[key];
  if (typeof original !== 'function') return;
  const guarded = {
    [key]() {
      check(this, arguments);
      return apply(original, this, arguments);
    },
  }[key];
  defineProperty(guarded, 'length', { value: original.length, configurable: true });
  hidden(holder, key, guarded);
};
const arrayMethods = getOwnPropertyNames(ArrayCtor.prototype);
for (let i = 0; i < arrayMethods.length; i++) {
  const key = arrayMethods[i];
  // O(1) methods and lazy iterators need no guard (values is also Array.prototype[Symbol.iterator]).
  if (key === 'constructor' || key === 'length' || key === 'at' || key === 'push' || key === 'pop' ||
      key === 'values' || key === 'keys' || key === 'entries') continue;
  wrap(ArrayCtor.prototype, key, (self, args) => {
    checkLength(self);
    for (let j = 0; j < args.length; j++) if (isArray(args[j])) checkLength(args[j]); // concat(hugeSparse)
  });
}
wrap(ArrayCtor, 'from', (self, args) => checkLength(args[0]));
const objectWalkers = ['keys', 'values', 'entries', 'getOwnPropertyNames', 'getOwnPropertyDescriptors', 'assign'];
for (let i = 0; i < objectWalkers.length; i++) {
  wrap(ObjectCtor, objectWalkers[i], (self, args) => { if (isArray(args[0])) checkLength(args[0]); });
}
wrap(Reflect, 'ownKeys', (self, args) => { if (isArray(args[0])) checkLength(args[0]); });
const stringRepeat = StringCtor.prototype.repeat;
hidden(StringCtor.prototype, 'repeat', { repeat(count) {
  const n = NumberCtor(count);
  if (toStr(this).length * n > maxStr) tooLong('string', toStr(this).length * n, maxStr);
  return apply(stringRepeat, this, [n]);
} }.repeat);
const padGuard = (key) => {
  const original = StringCtor.prototype[key];
  hidden(StringCtor.prototype, key, { [key](length, fill) {
    const n = NumberCtor(length);
    if (n > maxStr) tooLong('string', n, maxStr);
    return apply(original, this, [n, fill]);
  } }[key]);
};
padGuard('padStart');
padGuard('padEnd');
const guardedArray = new ProxyCtor(ArrayCtor, {
  apply(target, self, args) {
    if (args.length === 1 && typeof args[0] === 'number' && args[0] > maxLen) tooLong('array', args[0], maxLen);
    return apply(target, self, args);
  },
  construct(target, args, newTarget) {
    if (args.length === 1 && typeof args[0] === 'number' && args[0] > maxLen) tooLong('array', args[0], maxLen);
    return construct(target, args, newTarget === guardedArray ? target : newTarget);
  },
});
hidden(G, 'Array', guardedArray);

// 4. The bridge, as the guest-side ctx uses it.
let aborted = false;
let finished = false;
const pending = new MapCtor();

class CancelledError extends ErrorCtor {
  constructor(message) {
    super(message === undefined ? 'The generation was cancelled' : message);
    hidden(this, 'name', 'CancelledError');
    hidden(this, 'code', 'LH_ERR_CANCELLED');
  }
}

const reviveError = (err) => {
  const name = toStr(err.name);
  const message = toStr(err.message);
  if (name === 'CancelledError') {
    aborted = true;
    return new CancelledError(message);
  }
  const error = name === 'TypeError' ? new TypeErrorCtor(message) : name === 'RangeError' ? new RangeErrorCtor(message) : new ErrorCtor(message);
  if (name !== 'TypeError' && name !== 'RangeError' && name !== 'Error') hidden(error, 'name', name);
  if (typeof err.code === 'string') hidden(error, 'code', err.code);
  return error;
};

const call = (op, value, limit) => {
  if (aborted) throw new CancelledError();
  if (finished) throw new ErrorCtor('this processor call has finished; its ctx can no longer be used');
  const payload = stringify(value);
  if (payload.length > limit) {
    // Refused here, before the host would have to copy it.
    bridge('oversize', stringify(list(op, payload.length)));
    throw new RangeErrorCtor('ctx.' + op + ' argument of ' + payload.length + ' characters exceeds the sandbox limit of ' + limit + ' bytes');
  }
  const reply = parse(bridge(op, payload));
  if (reply.ok === true) return reply.value;
  throw reviveError(reply.error);
};

const callAsync = (op, build) => {
  let id;
  try {
    id = call(op, build(), config.maxPayloadBytes);
  } catch (error) {
    return apply(promiseReject, PromiseCtor, [error]);
  }
  return new PromiseCtor((resolve, reject) => {
    apply(mapSet, pending, [id, { resolve, reject }]);
  });
};

const settle = (id, ok, json) => {
  const waiter = apply(mapGet, pending, [id]);
  if (waiter === undefined) return;
  apply(mapDelete, pending, [id]);
  const value = parse(json);
  if (ok === true) waiter.resolve(value);
  else waiter.reject(reviveError(value));
};

const format = (value) => {
  if (typeof value === 'string') return value;
  try {
    const json = stringify(value);
    return json === undefined ? toStr(value) : json;
  } catch (error) {
    try {
      return toStr(value);
    } catch (error2) {
      return '[unprintable]';
    }
  }
};

const writeLog = (level, args) => {
  let message = '';
  for (let i = 0; i < args.length; i++) message += (i === 0 ? '' : ' ') + format(args[i]);
  call('log', list(level, message), config.maxEmitBytes);
};

const consoleShim = freeze({
  log() { writeLog('info', arguments); },
  info() { writeLog('info', arguments); },
  debug() { writeLog('debug', arguments); },
  warn() { writeLog('warn', arguments); },
  error() { writeLog('error', arguments); },
});
hidden(G, 'console', consoleShim);

const deepFreeze = (value) => {
  if (value !== null && typeof value === 'object') {
    const keys = getOwnPropertyNames(value);
    for (let i = 0; i < keys.length; i++) deepFreeze(value[keys[i]]);
    freeze(value);
  }
  return value;
};

${PRIMITIVES_SOURCE}
const generateOptions = (what, options) => {
  const out = record();
  if (options === undefined || options === null) return out;
  if (typeof options !== 'object') throw new TypeErrorCtor(what + ' options must be an object');
  const numeric = ['maxTokens', 'temperature', 'topK', 'topP', 'repeatPenalty', 'repeatLastN', 'seed'];
  for (let i = 0; i < numeric.length; i++) {
    const v = options[numeric[i]];
    if (v !== undefined) own(out, numeric[i], NumberCtor(v));
  }
  const stop = options.stop;
  if (stop !== undefined) {
    if (!isArray(stop)) throw new TypeErrorCtor(what + ' option stop must be an array of strings');
    const n = stop.length;
    if (n > 64) throw new RangeErrorCtor(what + ' option stop has more than 64 entries');
    const strings = list();
    for (let i = 0; i < n; i++) own(strings, i, toStr(stop[i]));
    own(out, 'stop', strings);
  }
  if (options.stream !== undefined) own(out, 'stream', !!options.stream);
  formatOption(what, options, out);
  return out;
};

const tokenList = (tokens) => {
  if (!isArray(tokens)) throw new TypeErrorCtor('ctx.detokenize expects an array of token ids');
  checkLength(tokens);
  const n = tokens.length;
  const ids = list();
  for (let i = 0; i < n; i++) own(ids, i, NumberCtor(tokens[i]));
  return ids;
};

let currentState;
/** Whether the hook used ctx.state at all: a state never touched is not serialized again (nor can fail to be). */
let stateTouched = false;
const reflectGet = Reflect.get, reflectSet = Reflect.set, reflectHas = Reflect.has, reflectDelete = Reflect.deleteProperty;
const reflectDefine = Reflect.defineProperty, reflectOwnKeys = Reflect.ownKeys, reflectDescriptor = Reflect.getOwnPropertyDescriptor;
const watchState = (target) => new ProxyCtor(target, {
  get(t, key, receiver) { stateTouched = true; return reflectGet(t, key, receiver); },
  set(t, key, value, receiver) { stateTouched = true; return reflectSet(t, key, value, receiver); },
  has(t, key) { stateTouched = true; return reflectHas(t, key); },
  deleteProperty(t, key) { stateTouched = true; return reflectDelete(t, key); },
  defineProperty(t, key, descriptor) { stateTouched = true; return reflectDefine(t, key, descriptor); },
  ownKeys(t) { stateTouched = true; return reflectOwnKeys(t); },
  getOwnPropertyDescriptor(t, key) { stateTouched = true; return reflectDescriptor(t, key); },
});

const makeCtx = (settings, personality, model, state) => {
  const emit = (type, content, metadata) => {
    call('emit', list(type, content, metadata), config.maxEmitBytes);
  };
  const message = (type) => (text) => emit(type, toStr(text), record());
  const signal = freeze({ get aborted() { return aborted; } });
  const extra = primitives(emit);
  return freeze({
    generate: (prompt, options) => callAsync('generate', () => list(toStr(prompt), generateOptions('ctx.generate', options))),
    chat: extra.chat,
    embed: extra.embed,
    ask: extra.ask,
    callPersonality: extra.callPersonality,
    store: extra.store,
    state,
    model,
    tokenize: (text) => callAsync('tokenize', () => list(toStr(text))),
    detokenize: (tokens) => callAsync('detokenize', () => list(tokenList(tokens))),
    chunk: message(0),
    full: message(1),
    fullInvisibleToAi: message(2),
    fullInvisibleToUser: message(3),
    exception: message(4),
    warning: message(5),
    info: message(6),
    step: message(7),
    stepStart: message(8),
    stepProgress: (text, progress) => {
      // A wrong value is the author's bug: say so, rather than show a progress that is not theirs.
      if (typeof progress !== 'number' || progress !== progress || progress === 1 / 0 || progress === -1 / 0) {
        throw new TypeErrorCtor('ctx.stepProgress: progress must be a number from 0 to 100, got ' +
          (typeof progress === 'string' ? stringify(progress.length > 40 ? progress.slice(0, 40) + '...' : progress) : typeof progress === 'number' ? toStr(progress) : typeof progress));
      }
      emit(9, toStr(text), record('progress', progress));
    },
    stepEnd: (text, success) => emit(10, toStr(text), record('status', success === undefined ? true : !!success)),
    json: (title, data) => {
      const content = stringify(data);
      emit(11, content === undefined ? 'null' : content, record('title', toStr(title)));
    },
    ref: message(12),
    code: message(13),
    ui: message(14),
    newMessage: (text, type) => emit(15, toStr(text), record('type', type === undefined ? 1 : NumberCtor(type))),
    finishedMessage: (text) => emit(17, text === undefined ? '' : toStr(text), record()),
    settings,
    personality,
    signal,
    log() { writeLog('info', arguments); },
  });
};

// 5. Reporting results. Every value is turned into strings here, under the isolate's limits.
const describeError = (error) => {
  const out = record();
  own(out, 'name', 'Error');
  own(out, 'message', '');
  try {
    if (error !== null && (typeof error === 'object' || typeof error === 'function')) {
      const name = error.name, message = error.message, stack = error.stack, code = error.code;
      own(out, 'name', toStr(name === undefined ? 'Error' : name).slice(0, 200));
      own(out, 'message', toStr(message === undefined ? '' : message).slice(0, 4000));
      if (typeof stack === 'string') own(out, 'stack', stack.slice(0, 8000));
      if (typeof code === 'string') own(out, 'code', code.slice(0, 200));
    } else {
      own(out, 'name', 'Thrown');
      own(out, 'message', toStr(error).slice(0, 4000));
    }
  } catch (inner) {
    own(out, 'message', 'the thrown value could not be described');
  }
  return out;
};

/** ctx.state as the JSON the host keeps, or a coded error when it cannot be kept. */
const stateJson = () => {
  let json;
  try {
    json = stringify(currentState);
  } catch (error) {
    throw new TypeErrorCtor('ctx.state must hold JSON data only: ' + toStr(error.message));
  }
  if (typeof json !== 'string' || json[0] !== '{') throw new TypeErrorCtor('ctx.state must stay an object');
  if (json.length > config.maxStateBytes) {
    const error = new RangeErrorCtor('ctx.state is ' + json.length + ' characters of JSON, more than the sandbox limit of ' + config.maxStateBytes + ' bytes');
    hidden(error, 'code', 'LH_ERR_STATE_TOO_LARGE');
    throw error;
  }
  return json;
};

const report = (ok, value, phase) => {
  if (finished) return;
  let state;
  if (ok && currentState !== undefined && stateTouched) {
    try {
      state = stateJson();
    } catch (error) {
      ok = false;
      value = describeError(error);
      phase = 'state';
    }
  }
  finished = true;
  const out = record();
  own(out, 'ok', ok);
  own(out, ok ? 'value' : 'error', value);
  own(out, 'phase', phase);
  if (state !== undefined) own(out, 'state', state);
  const payload = stringify(out);
  if (payload.length > config.maxPayloadBytes + config.maxStateBytes + 1024) {
    bridge('oversize', stringify(list('result', payload.length)));
    return;
  }
  bridge('done', payload);
};

const processorOf = (loaded) => {
  if (loaded === null || typeof loaded !== 'object') throw new TypeErrorCtor('the processor bundle did not evaluate');
  if (loaded.ok !== true) throw loaded.error;
  const ns = loaded.ns;
  const definition = ns === null || ns === undefined ? undefined : ns.default;
  if (definition === null || typeof definition !== 'object') {
    throw new TypeErrorCtor('the default export of scripts/processor.ts must be an object (export default defineProcessor({...})), got ' +
      (definition === null ? 'null' : typeof definition));
  }
  return definition;
};

const describeProcessor = (loaded) => {
  const out = record();
  try {
    const definition = processorOf(loaded);
    const hooks = record();
    own(hooks, 'processModelInput', typeof definition.processModelInput === 'function');
    own(hooks, 'runWorkflow', typeof definition.runWorkflow === 'function');
    own(hooks, 'processModelOutput', typeof definition.processModelOutput === 'function');
    const settings = definition.settings;
    const settingsJson = settings === undefined ? '{}' : stringify(settings);
    if (typeof settingsJson !== 'string') throw new TypeErrorCtor('settings must be an object');
    if (settingsJson.length > config.maxPayloadBytes) throw new RangeErrorCtor('the settings template is larger than the payload limit');
    own(out, 'ok', true);
    own(out, 'hooks', hooks);
    own(out, 'settings', settingsJson);
  } catch (error) {
    own(out, 'ok', false);
    own(out, 'error', describeError(error));
  }
  return stringify(out);
};

const resultText = (hook, value) => {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null || typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeErrorCtor(hook + ' returned ' + (value === null ? 'null' : typeof value) + '; a hook must return a string');
  }
  const json = stringify(value);
  if (typeof json !== 'string') throw new TypeErrorCtor(hook + ' returned a value that is not JSON; a hook must return a string');
  return json;
};

const runHook = async (definition, fn, hook, input, ctx) => {
  let value;
  try {
    value = await apply(fn, definition, [input, ctx]);
  } catch (error) {
    report(false, describeError(error), 'hook');
    return;
  }
  let text;
  try {
    text = resultText(hook, value);
  } catch (error) {
    report(false, describeError(error), 'hook');
    return;
  }
  report(true, text, 'hook');
};

const start = (loaded, hook, inputJson, settingsJson, personalityJson, modelJson, stateJsonIn) => {
  let definition;
  try {
    definition = processorOf(loaded);
  } catch (error) {
    report(false, describeError(error), 'load');
    return;
  }
  try {
    const fn = definition[hook];
    if (typeof fn !== 'function') throw new TypeErrorCtor('the processor has no ' + hook + ' hook');
    const raw = parse(inputJson);
    let input = raw;
    if (hook === 'runWorkflow') {
      input = { prompt: toStr(raw.prompt), previousDiscussion: toStr(raw.previousDiscussion) };
    }
    const state = parse(typeof stateJsonIn === 'string' ? stateJsonIn : '{}');
    currentState = state !== null && typeof state === 'object' && !isArray(state) ? state : createObject(ObjectCtor.prototype);
    const ctx = makeCtx(deepFreeze(parse(settingsJson)), deepFreeze(parse(personalityJson)), deepFreeze(parse(typeof modelJson === 'string' ? modelJson : '{}')), watchState(currentState));
    runHook(definition, fn, hook, input, ctx);
  } catch (error) {
    report(false, describeError(error), 'hook');
  }
};

return function entry(op, a, b, c, d, e, f, g) {
  try {
    if (op === 'start') return start(a, b, c, d, e, f, g);
    if (op === 'settle') return settle(a, b, c);
    if (op === 'abort') {
      aborted = true;
      return undefined;
    }
    if (op === 'describe') return describeProcessor(a);
  } catch (error) {
    // Never let a guest value escape as an exception: isolated-vm would copy it outside the time limit.
    if (op === 'start') report(false, describeError(error), 'hook');
  }
  return undefined;
};
`;

/**
 * Wrap the esbuild bundle (an IIFE assigning `__lh_processor`) so that evaluating it, in strict mode, yields
 * `{ok, ns}` or `{ok: false, error}` without throwing: the host keeps it as a Reference and hands it
 * back to `entry`, never copying a guest value out.
 */
export function wrapGuestBundle(code: string): string {
  // Strict, as the ES modules it was built from: esbuild's IIFE output carries no "use strict" of its own.
  return `(function () {\n'use strict';\ntry {\n${code}\nreturn { ok: true, ns: ${GUEST_GLOBAL_NAME} };\n} catch (error) {\nreturn { ok: false, error: error };\n}\n})()`;
}

/** The `globalName` the bundle is built with (a local of the wrapper function, not a real global). */
export const GUEST_GLOBAL_NAME = '__lh_processor';

// ---------------------------------------------------------------------------------------------------------
// The host half of the protocol: decoding what the guest sent. Payloads are untrusted JSON; only validated,
// freshly built values leave these functions (no parsed guest object is passed on as is).

export type { GuestLogLevel };

/** The message types a processor may emit (every `MSG_TYPE` number). */
const MESSAGE_TYPES = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17]);
const LOG_LEVELS = new Set<GuestLogLevel>(['info', 'warn', 'error', 'debug']);

/** A payload that does not fit the protocol; its message goes back to the guest as a `TypeError`. */
export class BadPayload extends TypeError {}

function tuple(payload: string, length: number, what: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    throw new BadPayload(`${what}: malformed call`);
  }
  if (!Array.isArray(value) || value.length !== length) throw new BadPayload(`${what}: malformed call`);
  return value;
}

export function decodeEmit(payload: string): { type: number; content: string; metadata: Record<string, unknown> } {
  const [type, content, meta] = tuple(payload, 3, 'message');
  if (typeof type !== 'number' || !MESSAGE_TYPES.has(type)) throw new BadPayload(`message: unknown message type ${String(type)}`);
  if (typeof content !== 'string') throw new BadPayload('message: the text must be a string');
  const m = meta !== null && typeof meta === 'object' ? (meta as Record<string, unknown>) : {};
  // Metadata is rebuilt per type from known fields: nothing else the guest put there reaches the client.
  let metadata: Record<string, unknown> = {};
  if (type === 9) {
    const progress = m['progress'];
    if (typeof progress !== 'number' || !Number.isFinite(progress)) throw new BadPayload('ctx.stepProgress: progress must be a number from 0 to 100');
    metadata = { progress: Math.min(100, Math.max(0, progress)) };
  } else if (type === 10) {
    metadata = { status: m['status'] !== false };
    // A tool call's end, sent by the bootstrap's tool loop: the host completes it from the call it made.
    if (typeof m['tool_call_id'] === 'string' && m['tool_call_id'].length <= 256) {
      metadata['tool_call_id'] = m['tool_call_id'];
      if (typeof m['result'] === 'string') metadata['result'] = m['result'].slice(0, 4096);
    }
  } else if (type === 11) {
    metadata = { title: typeof m['title'] === 'string' ? m['title'] : '' };
  } else if (type === 15) {
    metadata = { type: typeof m['type'] === 'number' && MESSAGE_TYPES.has(m['type']) ? m['type'] : 1 };
  }
  return { type, content, metadata };
}

export function decodeLog(payload: string): { level: GuestLogLevel; message: string } {
  const [level, message] = tuple(payload, 2, 'log');
  if (typeof level !== 'string' || !LOG_LEVELS.has(level as GuestLogLevel) || typeof message !== 'string') {
    throw new BadPayload('log: malformed call');
  }
  return { level: level as GuestLogLevel, message };
}

const NUMERIC_OPTIONS = {
  maxTokens: { integer: true, min: 1, max: Number.MAX_SAFE_INTEGER },
  temperature: { integer: false, min: 0, max: 100 },
  topK: { integer: true, min: 0, max: 1_000_000 },
  topP: { integer: false, min: 0, max: 1 },
  repeatPenalty: { integer: false, min: 0, max: 100 },
  repeatLastN: { integer: true, min: 0, max: 1_000_000 },
  seed: { integer: true, min: -1, max: 2 ** 32 },
} as const;

export function decodeGenerate(payload: string): { prompt: string; options: SandboxGenerateOptions } {
  const [prompt, raw] = tuple(payload, 2, 'ctx.generate');
  if (typeof prompt !== 'string') throw new BadPayload('ctx.generate: the prompt must be a string');
  return { prompt, options: decodeGenerateOptions('ctx.generate', raw) };
}

/**
 * A coded refusal of a ctx argument (a schema or grammar over its bounds): the guest gets an error with this
 * code, which it can catch and test.
 */
export class CodedPayload extends BadPayload {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The sampling, stop, stream and format options of `ctx.generate` and of one `ctx.chat` round. */
export function decodeGenerateOptions(what: string, raw: unknown): SandboxGenerateOptions {
  const source = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const options: SandboxGenerateOptions = {};
  for (const [key, rule] of Object.entries(NUMERIC_OPTIONS) as [keyof typeof NUMERIC_OPTIONS, (typeof NUMERIC_OPTIONS)[keyof typeof NUMERIC_OPTIONS]][]) {
    if (!Object.hasOwn(source, key)) continue;
    const value = source[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || (rule.integer && !Number.isInteger(value)) || value < rule.min || value > rule.max) {
      throw new BadPayload(`${what}: option ${key} must be ${rule.integer ? 'an integer' : 'a number'} from ${rule.min} to ${rule.max}`);
    }
    options[key] = value;
  }
  if (Object.hasOwn(source, 'stop')) {
    const stop = source['stop'];
    if (!Array.isArray(stop) || stop.length > 64 || !stop.every((s): s is string => typeof s === 'string' && s.length <= 1000)) {
      throw new BadPayload(`${what}: option stop must be at most 64 strings of at most 1000 characters`);
    }
    options.stop = [...stop];
  }
  if (Object.hasOwn(source, 'stream')) options.stream = source['stream'] === true;
  if (Object.hasOwn(source, 'format')) {
    const format = source['format'];
    try {
      checkOutputFormat(format);
    } catch (error) {
      if (error instanceof OutputFormatError) throw new CodedPayload(error.code, `${what}: ${error.message}`);
      throw error;
    }
    if (format.type === 'json_object') throw new BadPayload(`${what}: give a schema or a grammar`);
    options.format = format.type === 'json_schema' ? { type: 'json_schema', schema: format.schema } : { type: 'gbnf', grammar: format.grammar };
  }
  return options;
}

export function decodeTokenize(payload: string): string {
  const [text] = tuple(payload, 1, 'ctx.tokenize');
  if (typeof text !== 'string') throw new BadPayload('ctx.tokenize: the text must be a string');
  return text;
}

export function decodeDetokenize(payload: string): number[] {
  const [tokens] = tuple(payload, 1, 'ctx.detokenize');
  if (!Array.isArray(tokens) || !tokens.every((t): t is number => Number.isInteger(t) && t >= 0 && t < 2 ** 31)) {
    throw new BadPayload('ctx.detokenize: tokens must be an array of non-negative integer token ids');
  }
  return tokens.slice();
}
