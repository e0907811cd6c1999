/**
 * Processor sandbox: personality processor scripts compiled with esbuild and run in isolated-vm with hard
 * limits. See `ProcessorSandbox` for the lifecycle and `BOOTSTRAP_SOURCE` for what the guest can reach.
 */
export { compileProcessor, PLUGIN_API_SPECIFIER, PROCESSOR_ENTRY, type CompiledProcessor } from './compile.js';
export {
  assertNoNodeSnapshot,
  CATASTROPHIC_EXIT_CODE,
  installCatastrophicErrorHandler,
  PROCESSOR_HOOKS,
  ProcessorSandbox,
  type ProcessorHook,
  type ProcessorSandboxOptions,
  type SandboxCall,
  type SandboxHostApi,
  type SandboxLogger,
} from './isolate.js';
export type { GuestLogLevel } from './bootstrap.js';
export { DEFAULT_SANDBOX_LIMITS, resolveLimits, type SandboxLimits } from './limits.js';
export { sandboxErrors, type GuestError } from './errors.js';
