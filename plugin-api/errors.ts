/**
 * Every coded error of lollms-host, in one table (in the way of Fastify's `lib/errors.js`): the host, its
 * sandbox, the built-in bindings and the typed client raise nothing else. Each code has a one-line summary
 * (docs/errors.md shows it), the HTTP status an HTTP API answers it with, and, where the message has one fixed
 * shape, its template. A test checks that every `LH_ERR_*` string in the sources is here and in
 * docs/errors.md.
 *
 * Bindings import this module through `lollms-host/plugin-api` and throw `new PluginError(code, message)`;
 * the host keeps the code of any error whose `code` is one of these.
 */

/** One registered error. */
export interface ErrorDefinition {
  /** What happened and what to do, in one line. */
  readonly summary: string;
  /** The HTTP status an HTTP API answers with (500 when the fault is the host's own). */
  readonly status: number;
  /** The message, with `{name}` placeholders that `formatErrorMessage` fills, when it has one fixed shape. */
  readonly template?: string;
}

const defineErrors = <K extends `LH_ERR_${string}`>(table: Record<K, ErrorDefinition>): Readonly<Record<K, ErrorDefinition>> =>
  Object.freeze(table);

// Pure: a processor bundle that does not use the table leaves it out (esbuild drops unused pure calls).
export const ERRORS = /* @__PURE__ */ defineErrors({
  // Config, command line, start-up.
  LH_ERR_CONFIG_INVALID: { status: 400, summary: 'A config value (file, environment, flag or update_setting) is missing, of the wrong type or out of range; the message names the key.' },
  LH_ERR_CONFIG_SYNTAX: { status: 400, summary: 'The config file is not valid YAML; the error carries its file, line and column.' },
  LH_ERR_CLI_USAGE: { status: 400, summary: 'A command line that lollms-host cannot run: unknown command or flag, missing argument.' },
  LH_ERR_STARTUP_REFUSED: { status: 500, summary: 'The host refused to start with an unsafe setting, e.g. a non-loopback bind without an API key.' },
  LH_ERR_CLOSED: { status: 503, summary: 'The host is shutting down: it starts no new generation.', template: 'the host is shutting down; no new generation starts' },

  // Plugins: manifests, compile, load.
  LH_ERR_PLUGIN_PYTHON: { status: 400, summary: 'The folder is an original Python binding (binding.py or __init__.py, no TypeScript entry): lollms-host does not run Python bindings; see docs/writing-a-binding.md.' },
  LH_ERR_PLUGIN_MANIFEST: { status: 400, summary: 'A binding_card.yaml or models.yaml is missing or invalid, or host_api is not a semver range.' },
  LH_ERR_PLUGIN_API_MISMATCH: { status: 400, summary: "A plugin's host_api range does not accept this host's plugin API version." },
  LH_ERR_PLUGIN_COMPILE: { status: 400, summary: "A plugin's TypeScript failed to compile; the error carries the file, line and column." },
  LH_ERR_PLUGIN_IMPORT: { status: 400, summary: "A binding's compiled module threw while it was imported." },
  LH_ERR_PLUGIN_NOT_A_BINDING: { status: 400, summary: "A binding module's default export is not made by defineBinding." },

  // Bindings, models and the engine.
  LH_ERR_BINDING_NOT_FOUND: { status: 404, summary: 'No binding folder of that name in the bindings paths.' },
  LH_ERR_NO_BINDING: { status: 503, summary: 'The request needs a binding and none is selected: send select_binding first.' },
  LH_ERR_NO_MODEL: { status: 503, summary: 'The request needs a model and none is loaded: select a binding and a model first.', template: 'No model loaded: select a binding and a model first (select_binding, select_model)' },
  LH_ERR_MODEL_NOT_FOUND: { status: 404, summary: 'The active binding lists no model of that name, or its file is gone.' },
  LH_ERR_MODEL_CORRUPT: { status: 400, summary: 'The model file cannot be loaded: not a GGUF file, or metadata llama.cpp needs is missing.' },
  LH_ERR_MODEL_LOAD: { status: 500, summary: 'The binding failed to load the model (out of memory, no context of that size...); the previous model keeps serving.' },
  LH_ERR_MODEL_DISPOSED: { status: 503, summary: 'The model was unloaded while the call ran (a model switch or shutdown).' },
  LH_ERR_MODEL_LOADING: { status: 503, summary: 'A model is loading (the start-up model, a select_model, an engine retry) and was not ready within model_wait_ms: retry later.' },
  LH_ERR_ENGINE: { status: 500, summary: 'The llama.cpp engine could not start (no usable prebuilt binary).' },
  LH_ERR_GENERATE: { status: 500, summary: 'The engine failed during a generation.' },
  LH_ERR_BAD_TOKEN: { status: 400, summary: 'A token id outside the model vocabulary was passed to detokenize.' },
  LH_ERR_EMBEDDING_UNSUPPORTED: { status: 400, summary: 'The binding or the model cannot compute embeddings.' },
  LH_ERR_TOKENIZER_UNAVAILABLE: { status: 400, summary: "The binding cannot tokenize (a remote engine without a tokenize route); generation still works, with estimated token counts.", template: 'the binding "{binding}" cannot {operation}: its model has no tokenizer the host can reach' },

  // Remote engines (the openai_remote binding's endpoint pool).
  LH_ERR_REMOTE_CONFIG: { status: 400, summary: "The openai_remote binding's settings are invalid (an endpoint URL, a limit, a key that is neither in the named environment variable nor in the secret file); the message names the setting, never the key." },
  LH_ERR_REMOTE_UNAVAILABLE: { status: 503, summary: 'No endpoint of the remote pool can serve: all are down (each is probed until it answers again) or none serves the model; answered at once, retry later.' },
  LH_ERR_REMOTE_STREAM: { status: 502, summary: 'The remote endpoint failed after it had started answering (connection lost, an error in the stream, or a stream cut short); the text already streamed stays, the generation ends here.' },
  LH_ERR_REMOTE_HTTP: { status: 502, summary: 'The remote endpoint answered an error the binding cannot map to a client error (its status and message are in the text).' },

  // Model installs and paths.
  LH_ERR_INSTALL: { status: 400, summary: 'A model install request is invalid (bad file name, no source) or the download failed.' },
  LH_ERR_INSTALL_HTTP: { status: 502, summary: 'The model server answered an HTTP error status.' },
  LH_ERR_INSTALL_ADDRESS: { status: 403, summary: "A client's install URL (or a redirect) leads to an address that is not public; install_allowed_hosts allows more." },
  LH_ERR_INSTALL_UNREACHABLE: { status: 502, summary: 'The model server could not be reached (refused, unresolvable, closed or timed out: one answer for all, so installs cannot scan the network).' },
  LH_ERR_INSTALL_SIZE: { status: 413, summary: 'The download is larger than its cap (catalogue size + 10%, or install_max_size_mb), or would leave less than install_min_free_mb on disk.' },
  LH_ERR_INSTALL_BUSY: { status: 429, summary: 'This client already has an install running, or install_max_concurrent installs run host-wide.' },
  LH_ERR_INSTALL_EXISTS: { status: 409, summary: 'The model file is already installed; it is never overwritten.' },
  LH_ERR_CHECKSUM: { status: 400, summary: "The downloaded file's SHA-256 is not the expected one; the file is not installed." },
  LH_ERR_PATH_OUTSIDE_ROOT: { status: 400, summary: 'A path given by a client leaves the folder it must stay in (.., absolute paths, links out).' },
  LH_ERR_PATH_NOT_FOUND: { status: 404, summary: 'No file or folder at that path inside its root.' },
  LH_ERR_SCAFFOLD_EXISTS: { status: 409, summary: 'lollms-host new: the target folder exists and is not empty.' },

  // Personalities.
  LH_ERR_PERSONALITY_CONFIG_TOO_LARGE: { status: 400, summary: "A personality's config.yaml is larger than 256 KiB; it is refused before it is read." },
  LH_ERR_PERSONALITY_CONFIG_SYNTAX: { status: 400, summary: "A personality's config.yaml is not valid YAML; the error carries its line and column." },
  LH_ERR_PERSONALITY_CONFIG_INVALID: { status: 400, summary: "A personality's config.yaml has a value of the wrong type or out of range; the message names the key." },
  LH_ERR_PERSONALITY_NOT_FOUND: { status: 404, summary: 'No personality at that path in the personalities paths.' },
  LH_ERR_PERSONALITY_UNAVAILABLE: { status: 503, summary: 'The mounted personality cannot serve: it failed to load or its folder was removed; the message says why.' },
  LH_ERR_PERSONALITY_ID: { status: 404, summary: 'No personality is mounted under that id (see list_active_personalities).' },
  LH_ERR_SETTING_INVALID: { status: 400, summary: "A personality setting value does not fit the processor's template (type, min/max, options)." },
  LH_ERR_SETTING_UNKNOWN: { status: 400, summary: "A personality setting name that the processor's template does not declare." },
  LH_ERR_SETTING_OPERATOR_ONLY: { status: 403, summary: "A client tried to set a binding setting that its card marks operator_only: only the operator's settings file on the host sets it." },
  LH_ERR_PROCESSOR_UNAVAILABLE: { status: 400, summary: "processor_cfg asks for a hook that the personality's processor.ts does not define, or the processor is a Python one (not run)." },

  // Generation.
  LH_ERR_BAD_REQUEST: { status: 400, summary: 'A generation request that cannot run as sent, e.g. n_predicts not smaller than the context.' },
  LH_ERR_CONTEXT_OVERFLOW: { status: 400, summary: "The prompt or the personality's conditioning does not fit the model's context." },
  LH_ERR_SCHEMA_TOO_LARGE: { status: 400, summary: 'A JSON schema (response format, tool parameters, ctx schema) is larger or deeper than its bounds (64 KiB, depth 64, 1024 properties).' },
  LH_ERR_SCHEMA_INVALID: { status: 400, summary: 'A JSON schema is not a valid schema, or uses a feature the host refuses (e.g. a lookaround regex pattern).' },
  LH_ERR_GRAMMAR_TOO_LARGE: { status: 400, summary: 'A GBNF grammar is larger or more deeply nested than its bounds.' },
  LH_ERR_GRAMMAR_INVALID: { status: 400, summary: 'A GBNF grammar does not parse.' },
  LH_ERR_FORMAT_INVALID: { status: 400, summary: 'An output format is not one of json_object, json_schema or gbnf, or is malformed.' },
  LH_ERR_OUTPUT_INVALID: { status: 502, summary: "The model's output does not parse or does not follow the requested schema (or a tool call's arguments do not)." },
  LH_ERR_BUSY: { status: 503, summary: "No generation slot is free and the request may not wait (the LoLLMs busy rule, or the client's own generation still runs).", template: 'I am busy. Come back later.' },
  LH_ERR_QUEUE_FULL: { status: 503, summary: 'No generation slot is free and the queue of waiting requests is full: retry later.', template: 'the generation queue is full ({depth} waiting); retry later' },
  LH_ERR_TEXT_TOO_LONG: { status: 413, summary: 'A text or token list is longer than its cap: max_prompt_chars, max_tokenize_chars or max_detokenize_ids (a processor sees it from ctx.tokenize and ctx.detokenize).' },
  LH_ERR_TOO_MANY_REQUESTS: { status: 429, summary: 'A client has 16 tokenize, detokenize or embed requests not answered yet: send more once answers come.' },
  LH_ERR_CANCELLED: { status: 499, summary: 'The generation or operation was cancelled: cancel_generation, a disconnect, a closed HTTP request or shutdown. Processors see it as CancelledError.' },

  // HTTP APIs (the OpenAI-compatible API answers these in OpenAI's error shape).
  LH_ERR_UNAUTHORIZED: { status: 401, summary: 'The host has an api_key and the request did not send it (Authorization: Bearer <key>, or ?token=<key>), or sent another.' },
  LH_ERR_FORBIDDEN: { status: 403, summary: 'The request comes from a web page whose Origin is not in allowed_origins, or names a Host that a loopback bind refuses (DNS rebinding).' },
  LH_ERR_ROUTE_NOT_FOUND: { status: 404, summary: 'No HTTP route of that method and path (the OpenAI-compatible API lives under /v1).' },
  LH_ERR_BODY_TOO_LARGE: { status: 413, summary: 'The request body is larger than the route accepts.' },
  LH_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'A request that changes state must send its body as JSON (Content-Type: application/json).' },
  LH_ERR_MODEL_UNKNOWN: { status: 404, summary: 'The OpenAI API request names a model that is neither the loaded model nor a personality the host can mount (GET /v1/models lists them).' },
  LH_ERR_UNSUPPORTED_PARAMETER: { status: 400, summary: 'The OpenAI API request sets a field the host does not support (n other than 1, logprobs, audio...); docs/openai-api.md lists them.' },

  // The processor sandbox.
  LH_ERR_SANDBOX_TIMEOUT: { status: 500, summary: 'A processor exceeded its CPU time or wall time limit (sandbox_cpu_time_ms, sandbox_wall_time_ms).' },
  LH_ERR_SANDBOX_MEMORY: { status: 500, summary: 'A processor exceeded its memory limit (sandbox_memory_limit_mb).' },
  LH_ERR_SANDBOX_HOST_CALLS: { status: 500, summary: 'A processor made more ctx calls per turn than sandbox_max_host_calls, or too many at once.' },
  LH_ERR_SANDBOX_EMIT: { status: 500, summary: 'A processor sent more message bytes per turn than sandbox_max_emit_bytes.' },
  LH_ERR_SANDBOX_PAYLOAD: { status: 500, summary: 'A processor passed a ctx argument or returned a result larger than its limit.' },
  LH_ERR_SANDBOX_SCRIPT: { status: 500, summary: 'A processor hook threw; the message carries its error, the cause its stack.' },
  LH_ERR_SANDBOX_LOAD: { status: 400, summary: 'A processor failed its trial load: it threw while loading, its default export is not an object, or its settings template is invalid.' },
  LH_ERR_SANDBOX_NO_HOOK: { status: 500, summary: 'A hook was called that the processor does not define.' },
  LH_ERR_SANDBOX_BUSY: { status: 503, summary: "Too many calls wait for one personality's sandbox." },
  LH_ERR_SANDBOX_DISPOSED: { status: 503, summary: 'The sandbox was disposed (hot reload or shutdown) while the call waited or ran.' },
  LH_ERR_SANDBOX_LIMITS: { status: 400, summary: 'A sandbox limit in the config is out of range.' },
  LH_ERR_SANDBOX_NODE_SNAPSHOT: { status: 500, summary: 'Node runs without --no-node-snapshot, which isolated-vm needs: the host refuses to start sandboxes.' },
  LH_ERR_SANDBOX_CRASHED: { status: 500, summary: "A processor's sandbox process ended while it served a call; the next call starts a new one." },

  // Workflow primitives (plugin API 1.1).
  LH_ERR_STATE_TOO_LARGE: { status: 500, summary: "A processor left a ctx.state larger than sandbox_max_state_bytes as JSON; the hook fails and the previous state stays." },
  LH_ERR_STORE_QUOTA: { status: 507, summary: "A ctx.store.set would take the personality's store past personality_store_max_bytes; nothing is written." },
  LH_ERR_STORE_KEY: { status: 400, summary: 'A ctx.store key is empty, longer than 256 characters or holds a control character.' },
  LH_ERR_ASK_UNAVAILABLE: { status: 400, summary: 'ctx.ask has no user to ask: the request came through a transport without a channel back (the OpenAI-compatible API). A processor can catch it and go on without the answer.' },
  LH_ERR_ASK_TIMEOUT: { status: 504, summary: "The user did not answer a ctx.ask question within its timeout, or the turn's waiting budget for answers (sandbox_ask_timeout_ms, all its questions together) is spent." },
  LH_ERR_TOOL_ROUNDS: { status: 500, summary: 'ctx.chat: the model still called tools after maxToolRounds rounds (at most sandbox_max_tool_rounds).' },
  LH_ERR_PERSONALITY_CALL_DENIED: { status: 403, summary: "ctx.callPersonality: the called personality's callable_by does not list the caller." },
  LH_ERR_PERSONALITY_CALL_LOOP: { status: 508, summary: 'ctx.callPersonality: the call would form a cycle (a personality already in the call chain) or nest deeper than sandbox_max_call_depth.' },

  // The typed client (lollms-host/client).
  LH_ERR_CLIENT_REQUEST: { status: 400, summary: 'Client: the host answered the request with its failure shape; serverMessage holds its text.' },
  LH_ERR_CLIENT_TIMEOUT: { status: 504, summary: 'Client: no reply within the time limit.' },
  LH_ERR_CLIENT_BUSY: { status: 503, summary: 'Client: the host answered busy (buzzy + busy).' },
  LH_ERR_CLIENT_CANCELLED: { status: 499, summary: 'Client: the request was cancelled (a signal, cancel(), or the host cancelled it).' },
  LH_ERR_CLIENT_CONNECTION: { status: 503, summary: 'Client: the connection failed or was lost.' },
});

/** Every registered code. */
export type ErrorCode = keyof typeof ERRORS;

/** Whether `code` is a registered code. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** The message of a code with a template, its `{name}` placeholders filled from `params` (unknown ones kept). */
export function formatErrorMessage(code: ErrorCode, params: Readonly<Record<string, string | number>> = {}): string {
  const template = ERRORS[code].template ?? ERRORS[code].summary;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/**
 * A coded error a plugin throws (a binding cannot import the host's core): the host keeps its `code`, e.g.
 * `throw new PluginError('LH_ERR_MODEL_NOT_FOUND', 'model x.gguf not found')`.
 */
export class PluginError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PluginError';
    this.code = code;
  }
}
