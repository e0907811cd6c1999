/**
 * Coded errors, in the style of Fastify's `FST_ERR_*`: every error the host raises on purpose has a stable
 * `code` that tests, logs and clients can match on, and a message that says what was wrong. The codes live in
 * one registry, `ERRORS` of plugin-api/errors.ts (bindings throw the same codes); this module makes the host's
 * error class and a factory per code.
 */
import { ERRORS, isErrorCode, type ErrorCode } from '../plugin-api/errors.js';

export { ERRORS, isErrorCode, type ErrorCode };

export class LollmsHostError extends Error {
  /** Stable machine-readable code, e.g. `LH_ERR_CONFIG_INVALID`. */
  readonly code: ErrorCode;
  /** Source location, when the error is about a file (config, plugin source). */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; file?: string; line?: number; column?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LollmsHostError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
  }

  /** The HTTP status an HTTP API answers this error with (from the registry). */
  get status(): number {
    return ERRORS[this.code].status;
  }
}

type ErrorFactory = {
  (message: string, options?: ConstructorParameters<typeof LollmsHostError>[2]): LollmsHostError;
  readonly code: ErrorCode;
};

/** Make a factory for one registered code, so call sites read `throw ConfigInvalid('...')`. */
export function createError(code: ErrorCode): ErrorFactory {
  const factory = (message: string, options?: ConstructorParameters<typeof LollmsHostError>[2]) =>
    new LollmsHostError(code, message, options);
  return Object.assign(factory, { code });
}

/** The message of anything thrown, for error events and logs. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The registered code of anything thrown (a plugin's plain error with a `code` included), or undefined. */
export function errorCode(error: unknown): ErrorCode | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return isErrorCode(code) ? code : undefined;
}

/** `{message, file, line, column}` of an error, for `plugin_error`, `plugin_warning` and the log. */
export function errorLocation(error: unknown): { message: string; file?: string; line?: number; column?: number } {
  const out: { message: string; file?: string; line?: number; column?: number } = { message: errorMessage(error) };
  if (error instanceof LollmsHostError) {
    if (error.file !== undefined) out.file = error.file;
    if (error.line !== undefined) out.line = error.line;
    if (error.column !== undefined) out.column = error.column;
  }
  return out;
}

// Config, command line, start-up.
export const ConfigInvalid = createError('LH_ERR_CONFIG_INVALID');
export const ConfigSyntax = createError('LH_ERR_CONFIG_SYNTAX');
export const CliUsage = createError('LH_ERR_CLI_USAGE');
export const StartupRefused = createError('LH_ERR_STARTUP_REFUSED');
export const HostClosed = createError('LH_ERR_CLOSED');

// Plugins.
export const PluginManifest = createError('LH_ERR_PLUGIN_MANIFEST');
export const PluginPython = createError('LH_ERR_PLUGIN_PYTHON');
export const PluginApiMismatch = createError('LH_ERR_PLUGIN_API_MISMATCH');
export const PluginCompile = createError('LH_ERR_PLUGIN_COMPILE');
export const PluginImport = createError('LH_ERR_PLUGIN_IMPORT');
export const PluginNotABinding = createError('LH_ERR_PLUGIN_NOT_A_BINDING');

// Bindings, models, the engine.
export const BindingNotFound = createError('LH_ERR_BINDING_NOT_FOUND');
export const NoBindingSelected = createError('LH_ERR_NO_BINDING');
export const NoModelLoaded = createError('LH_ERR_NO_MODEL');
export const ModelNotFound = createError('LH_ERR_MODEL_NOT_FOUND');
export const ModelCorrupt = createError('LH_ERR_MODEL_CORRUPT');
export const ModelLoadFailed = createError('LH_ERR_MODEL_LOAD');
export const EngineUnavailable = createError('LH_ERR_ENGINE');
export const ModelStillLoading = createError('LH_ERR_MODEL_LOADING');
export const TokenizerUnavailable = createError('LH_ERR_TOKENIZER_UNAVAILABLE');
export const EmbeddingUnsupported = createError('LH_ERR_EMBEDDING_UNSUPPORTED');

// Model installs and safe paths.
export const PathOutsideRoot = createError('LH_ERR_PATH_OUTSIDE_ROOT');
export const PathNotFound = createError('LH_ERR_PATH_NOT_FOUND');
export const InstallFailed = createError('LH_ERR_INSTALL');
export const InstallHttpStatus = createError('LH_ERR_INSTALL_HTTP');
export const InstallExists = createError('LH_ERR_INSTALL_EXISTS');
export const ChecksumMismatch = createError('LH_ERR_CHECKSUM');
export const ScaffoldExists = createError('LH_ERR_SCAFFOLD_EXISTS');

// Personalities.
export const PersonalityConfigSyntax = createError('LH_ERR_PERSONALITY_CONFIG_SYNTAX');
export const PersonalityConfigInvalid = createError('LH_ERR_PERSONALITY_CONFIG_INVALID');
export const PersonalityConfigTooLarge = createError('LH_ERR_PERSONALITY_CONFIG_TOO_LARGE');
export const PersonalityNotFound = createError('LH_ERR_PERSONALITY_NOT_FOUND');
export const PersonalityIdInvalid = createError('LH_ERR_PERSONALITY_ID');
export const PersonalityUnavailable = createError('LH_ERR_PERSONALITY_UNAVAILABLE');
export const SettingInvalid = createError('LH_ERR_SETTING_INVALID');
export const SettingUnknown = createError('LH_ERR_SETTING_UNKNOWN');
export const SettingOperatorOnly = createError('LH_ERR_SETTING_OPERATOR_ONLY');
export const ProcessorUnavailable = createError('LH_ERR_PROCESSOR_UNAVAILABLE');

// Generation.
export const BadRequest = createError('LH_ERR_BAD_REQUEST');
export const ContextOverflow = createError('LH_ERR_CONTEXT_OVERFLOW');
export const Busy = createError('LH_ERR_BUSY');
export const QueueFull = createError('LH_ERR_QUEUE_FULL');
export const TextTooLong = createError('LH_ERR_TEXT_TOO_LONG');
export const TooManyRequests = createError('LH_ERR_TOO_MANY_REQUESTS');
/** The one cancellation code: cancel, disconnect, a closed HTTP request, shutdown (and `CancelledError` in processors). */
export const Cancelled = createError('LH_ERR_CANCELLED');

// Processor sandbox (core/sandbox/).
export const SandboxTimeout = createError('LH_ERR_SANDBOX_TIMEOUT');
export const SandboxMemory = createError('LH_ERR_SANDBOX_MEMORY');
export const SandboxHostCalls = createError('LH_ERR_SANDBOX_HOST_CALLS');
export const SandboxEmit = createError('LH_ERR_SANDBOX_EMIT');
export const SandboxPayload = createError('LH_ERR_SANDBOX_PAYLOAD');
export const SandboxScript = createError('LH_ERR_SANDBOX_SCRIPT');
export const SandboxLoad = createError('LH_ERR_SANDBOX_LOAD');
export const SandboxNoHook = createError('LH_ERR_SANDBOX_NO_HOOK');
export const SandboxBusy = createError('LH_ERR_SANDBOX_BUSY');
export const SandboxDisposed = createError('LH_ERR_SANDBOX_DISPOSED');
export const SandboxLimitsInvalid = createError('LH_ERR_SANDBOX_LIMITS');
export const SandboxNodeSnapshot = createError('LH_ERR_SANDBOX_NODE_SNAPSHOT');
export const SandboxCrashed = createError('LH_ERR_SANDBOX_CRASHED');

// Workflow primitives (plugin API 1.1: ctx.state, ctx.store, ctx.ask, ctx.chat tools, ctx.callPersonality).
export const StateTooLarge = createError('LH_ERR_STATE_TOO_LARGE');
export const StoreQuota = createError('LH_ERR_STORE_QUOTA');
export const StoreKeyInvalid = createError('LH_ERR_STORE_KEY');
export const AskUnavailable = createError('LH_ERR_ASK_UNAVAILABLE');
export const AskTimeout = createError('LH_ERR_ASK_TIMEOUT');
export const ToolRounds = createError('LH_ERR_TOOL_ROUNDS');
export const PersonalityCallDenied = createError('LH_ERR_PERSONALITY_CALL_DENIED');
export const PersonalityCallLoop = createError('LH_ERR_PERSONALITY_CALL_LOOP');
