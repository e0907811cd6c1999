/**
 * Coded errors, in the style of Fastify's `FST_ERR_*`: every error the host raises on purpose has a stable
 * `code` that tests, logs and clients can match on, and a message that says what was wrong.
 */
export class LollmsHostError extends Error {
  /** Stable machine-readable code, e.g. `LH_ERR_CONFIG_INVALID`. */
  readonly code: string;
  /** Source location, when the error is about a file (config, plugin source). */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;

  constructor(code: string, message: string, options: { cause?: unknown; file?: string; line?: number; column?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LollmsHostError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
  }
}

type ErrorFactory = {
  (message: string, options?: ConstructorParameters<typeof LollmsHostError>[2]): LollmsHostError;
  readonly code: string;
};

/** Make a factory for one error code, so call sites read `throw ConfigInvalid('...')`. */
export function createError(code: string): ErrorFactory {
  const factory = (message: string, options?: ConstructorParameters<typeof LollmsHostError>[2]) =>
    new LollmsHostError(code, message, options);
  return Object.assign(factory, { code });
}

export const ConfigInvalid = createError('LH_ERR_CONFIG_INVALID');
export const ConfigSyntax = createError('LH_ERR_CONFIG_SYNTAX');
export const CliUsage = createError('LH_ERR_CLI_USAGE');
export const StartupRefused = createError('LH_ERR_STARTUP_REFUSED');
export const PluginManifest = createError('LH_ERR_PLUGIN_MANIFEST');
export const PluginPython = createError('LH_ERR_PLUGIN_PYTHON');
export const PluginApiMismatch = createError('LH_ERR_PLUGIN_API_MISMATCH');
export const PluginCompile = createError('LH_ERR_PLUGIN_COMPILE');
export const PluginImport = createError('LH_ERR_PLUGIN_IMPORT');
export const PluginNotABinding = createError('LH_ERR_PLUGIN_NOT_A_BINDING');
export const BindingNotFound = createError('LH_ERR_BINDING_NOT_FOUND');
export const NoBindingSelected = createError('LH_ERR_NO_BINDING');
export const NoModelLoaded = createError('LH_ERR_NO_MODEL');
export const ModelNotFound = createError('LH_ERR_MODEL_NOT_FOUND');
export const ModelCorrupt = createError('LH_ERR_MODEL_CORRUPT');
export const ModelLoadFailed = createError('LH_ERR_MODEL_LOAD');
export const PathOutsideRoot = createError('LH_ERR_PATH_OUTSIDE_ROOT');
export const InstallFailed = createError('LH_ERR_INSTALL');
export const ChecksumMismatch = createError('LH_ERR_CHECKSUM');
export const Aborted = createError('LH_ERR_ABORTED');

/** The message of anything thrown, for error events and logs. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

// Personalities (core/personalities) and safe paths (core/util/safe-path.ts).
export const PersonalityConfigSyntax = createError('LH_ERR_PERSONALITY_CONFIG_SYNTAX');
export const PersonalityConfigInvalid = createError('LH_ERR_PERSONALITY_CONFIG_INVALID');
export const PersonalityConfigTooLarge = createError('LH_ERR_PERSONALITY_CONFIG_TOO_LARGE');
export const PersonalityNotFound = createError('LH_ERR_PERSONALITY_NOT_FOUND');
export const PathNotFound = createError('LH_ERR_PATH_NOT_FOUND');
export const SettingInvalid = createError('LH_ERR_SETTING_INVALID');
export const SettingUnknown = createError('LH_ERR_SETTING_UNKNOWN');
export const ContextOverflow = createError('LH_ERR_CONTEXT_OVERFLOW');

// Model install (core/bindings/install.ts).
export const InstallHttpStatus = createError('LH_ERR_INSTALL_HTTP');
export const InstallExists = createError('LH_ERR_INSTALL_EXISTS');

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
