/**
 * The programmatic API of lollms-host: start a host in-process (the tests and embedding applications use it).
 */
export { startHost, Host, TINY_MODEL_NAME, type HostOptions, type HostHandle, type HostPaths } from './host.js';
export { ConfigStore, CONFIG_KEYS, CONFIG_VERSION, defaultConfig, type HostConfig, type ConfigKey, type ConfigSource } from './config.js';
export { LollmsHostError, ERRORS, isErrorCode, type ErrorCode } from './errors.js';
export type { GenerationService, GenerationStatus } from './generation/service.js';
export type {
  AskRequest,
  ClientRef,
  FinishReason,
  GenerationOutcome,
  GenerationRequest,
  GenerationSink,
  GenerationUsage,
  PersonalityRef,
  QueuePolicy,
  WorkflowMessage,
} from './generation/types.js';
export type { StatusReport } from './transports/http/status.js';
export { writeTestModel } from './bindings/test-model.js';
export type * from './protocol/index.js';
export { WIRE_TEXT } from './protocol/index.js';
