/**
 * Processor sandbox: personality processor scripts compiled with esbuild and run in isolated-vm with hard
 * limits, each personality's isolate inside a sandbox process of its own. See `ProcessorSandbox` for the
 * lifecycle, `BOOTSTRAP_SOURCE` for what the guest can reach and docs/security.md for the guarantees.
 */
export { compileProcessor, disposeIncrementalCompiles, PLUGIN_API_SPECIFIER, PROCESSOR_ENTRY, type CompiledProcessor } from './compile.js';
export { ProcessorSandbox } from './processor-sandbox.js';
export { stopSpareSandboxProcess, whenSpareReady } from './spare-process.js';
export { SandboxPool, type PoolEntry, type PooledSandbox, type SandboxPoolObserver, type SandboxPoolOptions, type SandboxStartReason } from './process-pool.js';
export { assertNoNodeSnapshot, CATASTROPHIC_EXIT_CODE, installCatastrophicErrorHandler } from './process-guards.js';
export {
  createSandboxBudget,
  nestedSandboxBudget,
  PROCESSOR_HOOKS,
  type BudgetCounts,
  type SandboxAsk,
  type SandboxChatOptions,
  type SandboxChatReply,
  type SandboxGenerateOptions,
  type SandboxStoreRequest,
  type StateSlot,
  type ProcessorHook,
  type ProcessorSandboxOptions,
  type SandboxBudget,
  type SandboxCall,
  type SandboxHostApi,
  type SandboxLogger,
} from './types.js';
export type { GuestLogLevel } from './bootstrap.js';
export { WallClock } from './wall-clock.js';
export { HOST_OP_LIMITS, storeKeyProblem } from './host-ops.js';
export { DEFAULT_SANDBOX_LIMITS, resolveLimits, type SandboxLimits } from './limits.js';
export { sandboxErrors, SandboxCrashed, type GuestError } from './errors.js';
