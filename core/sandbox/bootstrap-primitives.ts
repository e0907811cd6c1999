/**
 * The guest half of the plugin API 1.1 primitives (issues 14 and 15): `ctx.chat` with its tool loop,
 * `ctx.embed`, `ctx.ask`, `ctx.callPersonality` and `ctx.store`. This is a fragment of `BOOTSTRAP_SOURCE`
 * (spliced in before `makeCtx`), so it sees the bootstrap's captured intrinsics and its `call`/`callAsync`
 * bridge helpers, and it runs before any guest code.
 *
 * The tool loop runs here, inside the isolate: each model round is one `chat` host operation (the host
 * never calls back into guest code); the handlers the processor declared run in between, under the isolate's
 * limits. What a round sends is built from fresh records (no guest prototype, getter or `toJSON` survives
 * into the payload's shape), and what comes back is parsed into fresh values.
 */
export const PRIMITIVES_SOURCE = String.raw`
// ---- Plugin API 1.1 primitives (core/sandbox/bootstrap-primitives.ts) ----
const promiseThen = PromiseCtor.prototype.then;
const mathFloor = Math.floor;
/** Most tools one ctx.chat may offer, texts one ctx.embed may carry, choices one ctx.ask may offer. */
const MAX_TOOLS = 128, MAX_EMBED_TEXTS = 64, MAX_CHOICES = 32;
/** The part of a tool's result that travels in its step message (the model gets all of it). */
const TOOL_RESULT_IN_STEP = 4096;

const codedError = (Ctor, code, message) => {
  const error = new Ctor(message);
  hidden(error, 'code', code);
  return error;
};

/** A guest's schema or grammar option, as the output format the host checks and enforces. */
const formatOption = (what, options, out) => {
  const schema = options.schema, grammar = options.grammar;
  if (schema !== undefined && grammar !== undefined) throw new TypeErrorCtor(what + ': the options schema and grammar cannot be combined');
  if (schema !== undefined) {
    const format = record('type', 'json_schema');
    own(format, 'schema', schema);
    own(out, 'format', format);
  } else if (grammar !== undefined) {
    if (typeof grammar !== 'string') throw new TypeErrorCtor(what + ': the option grammar must be a string');
    const format = record('type', 'gbnf');
    own(format, 'grammar', grammar);
    own(out, 'format', format);
  }
};

const stringList = (what, values, max) => {
  if (!isArray(values)) throw new TypeErrorCtor(what + ' must be an array of strings');
  const n = values.length;
  if (n > max) throw new RangeErrorCtor(what + ' has more than ' + max + ' entries');
  const out = list();
  for (let i = 0; i < n; i++) own(out, i, toStr(values[i]));
  return out;
};

const copyToolCalls = (calls, at) => {
  if (!isArray(calls)) throw new TypeErrorCtor(at + ': toolCalls must be an array');
  checkLength(calls);
  const out = list();
  for (let j = 0; j < calls.length; j++) {
    const c = calls[j];
    if (c === null || typeof c !== 'object') throw new TypeErrorCtor(at + ': each tool call must be an object');
    const copy = record('id', toStr(c.id));
    own(copy, 'name', toStr(c.name));
    own(copy, 'arguments', c.arguments === undefined ? record() : c.arguments);
    own(out, j, copy);
  }
  return out;
};

const chatMessage = (m, i) => {
  const at = 'ctx.chat: message ' + i;
  if (m === null || typeof m !== 'object') throw new TypeErrorCtor(at + ' is not an object');
  const out = record('role', toStr(m.role));
  own(out, 'content', m.content === undefined || m.content === null ? '' : toStr(m.content));
  if (m.name !== undefined) own(out, 'name', toStr(m.name));
  if (m.toolCallId !== undefined) own(out, 'toolCallId', toStr(m.toolCallId));
  if (m.toolCalls !== undefined) own(out, 'toolCalls', copyToolCalls(m.toolCalls, at));
  return out;
};

const toolChoiceOf = (choice) => {
  if (choice === undefined) return undefined;
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (choice !== null && typeof choice === 'object' && typeof choice.name === 'string') return record('name', choice.name);
  throw new TypeErrorCtor('ctx.chat: toolChoice must be "auto", "none", "required" or { name }');
};

/** The definitions the host sees, and the handlers that stay here. */
const toolsOf = (tools) => {
  const defs = list();
  const handlers = new MapCtor();
  if (tools === undefined || tools === null) return record('defs', defs);
  if (!isArray(tools)) throw new TypeErrorCtor('ctx.chat: tools must be an array');
  const n = tools.length;
  if (n > MAX_TOOLS) throw new RangeErrorCtor('ctx.chat: more than ' + MAX_TOOLS + ' tools');
  for (let i = 0; i < n; i++) {
    const tool = tools[i];
    if (tool === null || typeof tool !== 'object') throw new TypeErrorCtor('ctx.chat: tool ' + i + ' is not an object');
    const name = toStr(tool.name);
    const handler = tool.handler;
    if (typeof handler !== 'function') throw new TypeErrorCtor('ctx.chat: tool ' + name + ' has no handler function');
    const def = record('name', name);
    if (tool.description !== undefined) own(def, 'description', toStr(tool.description));
    if (tool.parameters !== undefined) own(def, 'parameters', tool.parameters);
    own(defs, i, def);
    const entry = record('tool', tool);
    own(entry, 'handler', handler);
    apply(mapSet, handlers, [name, entry]);
  }
  const out = record('defs', defs);
  own(out, 'handlers', handlers);
  return out;
};

const toolResultText = (value) => {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'null';
  const json = stringify(value);
  return json === undefined ? 'null' : json;
};

const toolErrorText = (error) => {
  let message;
  try {
    message = error !== null && typeof error === 'object' ? toStr(error.message) : toStr(error);
  } catch (inner) {
    message = 'the tool failed';
  }
  return stringify(record('error', message.length > 4000 ? message.slice(0, 4000) : message));
};

const isCancel = (error) => {
  if (aborted) return true;
  try {
    return error !== null && typeof error === 'object' && error.name === 'CancelledError';
  } catch (inner) {
    return false;
  }
};

/** ctx.chat: model rounds (host operations) and the tools' handlers (here) until the model answers. */
const runChat = async (messages, options, emit) => {
  if (options === undefined || options === null) options = record();
  else if (typeof options !== 'object') throw new TypeErrorCtor('ctx.chat options must be an object');
  if (!isArray(messages)) throw new TypeErrorCtor('ctx.chat expects an array of messages');
  checkLength(messages);
  const history = list();
  let size = 0;
  for (let i = 0; i < messages.length; i++) own(history, size++, chatMessage(messages[i], i));
  const base = generateOptions('ctx.chat', options);
  const format = base.format;
  const tools = toolsOf(options.tools);
  const defs = tools.defs, handlers = tools.handlers;
  const hasTools = defs.length > 0;
  let choice = toolChoiceOf(options.toolChoice);
  let rounds = config.maxToolRounds;
  if (options.maxToolRounds !== undefined) {
    const n = NumberCtor(options.maxToolRounds);
    if (!(n >= 1) || n !== mathFloor(n)) throw new RangeErrorCtor('ctx.chat: maxToolRounds must be a positive integer');
    if (n < rounds) rounds = n;
  }
  const onMessage = options.onMessage;
  if (onMessage !== undefined && typeof onMessage !== 'function') throw new TypeErrorCtor('ctx.chat: onMessage must be a function');
  const added = (message) => {
    if (onMessage !== undefined) apply(onMessage, undefined, [parse(stringify(message))]);
  };
  const baseKeys = getOwnPropertyNames(base);
  for (let round = 1; ; round++) {
    // Bindings refuse a format while the model may call tools: those rounds run without it, and a last round
    // without tools (toolChoice "none") gives the formatted answer.
    const toolsLive = hasTools && choice !== 'none';
    const opts = record();
    for (let k = 0; k < baseKeys.length; k++) if (baseKeys[k] !== 'format') own(opts, baseKeys[k], base[baseKeys[k]]);
    if (hasTools) {
      own(opts, 'tools', defs);
      if (choice !== undefined) own(opts, 'toolChoice', choice);
    }
    if (format !== undefined && !toolsLive) own(opts, 'format', format);
    const reply = await callAsync('chat', () => list(history, opts));
    const calls = reply.toolCalls;
    if (!isArray(calls) || calls.length === 0) {
      if (format !== undefined && toolsLive) {
        if (round >= rounds) throw codedError(RangeErrorCtor, 'LH_ERR_TOOL_ROUNDS', 'ctx.chat: no formatted answer within ' + rounds + ' rounds (maxToolRounds)');
        choice = 'none';
        continue;
      }
      const answer = record('role', 'assistant');
      own(answer, 'content', toStr(reply.text));
      added(answer);
      return format !== undefined && format.type === 'json_schema' ? reply.value : reply.text;
    }
    if (round >= rounds) {
      throw codedError(RangeErrorCtor, 'LH_ERR_TOOL_ROUNDS', 'ctx.chat: the model still called tools after ' + rounds + ' rounds (maxToolRounds)');
    }
    const assistant = record('role', 'assistant');
    own(assistant, 'content', toStr(reply.text));
    own(assistant, 'toolCalls', calls);
    own(history, size++, assistant);
    added(assistant);
    for (let j = 0; j < calls.length; j++) {
      const c = calls[j];
      const id = toStr(c.id), name = toStr(c.name);
      const entry = handlers === undefined ? undefined : apply(mapGet, handlers, [name]);
      let ok = true;
      let content;
      try {
        if (entry === undefined) throw new ErrorCtor('no tool named ' + name);
        content = toolResultText(await apply(entry.handler, entry.tool, [c.arguments]));
      } catch (error) {
        if (isCancel(error)) throw error;
        ok = false;
        content = toolErrorText(error);
      }
      // The host completes this step with the call's name and arguments (it made the matching start).
      const meta = record('status', ok);
      own(meta, 'tool_call_id', id);
      own(meta, 'result', content.length > TOOL_RESULT_IN_STEP ? content.slice(0, TOOL_RESULT_IN_STEP) : content);
      emit(10, '', meta);
      const result = record('role', 'tool');
      own(result, 'content', content);
      own(result, 'toolCallId', id);
      own(result, 'name', name);
      own(history, size++, result);
      added(result);
    }
    // A forcing choice applies to the first round: the model may then answer with the results.
    if (choice !== 'none') choice = undefined;
  }
};

const askArgs = (question, options) => {
  if (options === undefined || options === null) options = record();
  else if (typeof options !== 'object') throw new TypeErrorCtor('ctx.ask options must be an object');
  const choices = options.choices === undefined ? null : stringList('ctx.ask option choices', options.choices, MAX_CHOICES);
  let timeout = null;
  if (options.timeoutMs !== undefined) {
    timeout = NumberCtor(options.timeoutMs);
    if (!(timeout >= 1)) throw new RangeErrorCtor('ctx.ask: timeoutMs must be a positive number of milliseconds');
  }
  return list(toStr(question), choices, timeout);
};

const makeStore = () => freeze({
  get: (key) => apply(promiseThen, callAsync('store', () => list('get', toStr(key))), [(r) => (r.found === true ? r.value : undefined)]),
  set: (key, value) => apply(promiseThen, callAsync('store', () => {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
      throw new TypeErrorCtor('ctx.store.set: the value must be JSON (use ctx.store.delete to remove a key)');
    }
    return list('set', toStr(key), value);
  }), [() => undefined]),
  delete: (key) => callAsync('store', () => list('delete', toStr(key))),
  keys: (prefix) => callAsync('store', () => list('keys', prefix === undefined ? '' : toStr(prefix))),
});

/** The 1.1 members of ctx; emit is ctx's message sender (counted like every message). */
const primitives = (emit) => {
  const out = record();
  own(out, 'chat', (messages, options) => runChat(messages, options, emit));
  own(out, 'embed', (texts) => callAsync('embed', () => list(stringList('ctx.embed texts', texts, MAX_EMBED_TEXTS))));
  own(out, 'ask', (question, options) => callAsync('ask', () => askArgs(question, options)));
  own(out, 'callPersonality', (path, prompt) => callAsync('callPersonality', () => list(toStr(path), toStr(prompt))));
  own(out, 'store', makeStore());
  return out;
};
// ---- end of the 1.1 primitives ----
`;
