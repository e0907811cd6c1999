/**
 * The public, semver-versioned contract between lollms-host and its plugins. Built-in plugins import it as
 * `lollms-host/plugin-api`, exactly as third-party plugins do. This module has no runtime imports, so the
 * same code runs in the host and inside a processor's sandbox.
 */
export { PLUGIN_API_VERSION } from './version.js';
export { StopStringFilter, foldCase, type StopFilterResult } from './stop-strings.js';
export { ERRORS, formatErrorMessage, isErrorCode, PluginError, type ErrorCode, type ErrorDefinition } from './errors.js';
export { MSG_TYPE, msgTypeName, type MsgType, type MsgTypeName } from './messages.js';
export {
  defineBinding,
  isBinding,
  type Binding,
  type BindingContext,
  type BindingDefinition,
  type ChatOptions,
  type ChatResult,
  type EndpointStatus,
  type GenerateOptions,
  type GenerateResult,
  type GenerationTimings,
  type LoadedModel,
  type LoadModelRequest,
  type ModelFile,
  type ModelStatus,
  type PluginLogger,
  type SamplingOptions,
  type StopReason,
  type TokenizeOptions,
} from './binding.js';
export { TOOL_NAME_PATTERN, type ChatMessage, type ChatRole, type ToolCall, type ToolChoice, type ToolDefinition } from './chat.js';
export { ChatRequestError, checkChatRequest, type ChatRequestParts } from './chat-request.js';
export {
  CHAT_FALLBACK_SEPARATOR,
  parseChatFallbackOutput,
  renderChatFallback,
  toolCallsJsonSchema,
  type ChatFallbackOptions,
  type ChatFallbackPrompt,
  type ParseChatFallbackOptions,
} from './chat-fallback.js';
export {
  checkGbnfGrammar,
  checkJsonSchema,
  checkOutputFormat,
  DEFAULT_OUTPUT_FORMAT_LIMITS,
  OutputFormatError,
  type GbnfFormat,
  type JsonObjectFormat,
  type JsonSchema,
  type JsonSchemaFormat,
  type OutputFormat,
  type OutputFormatErrorCode,
  type OutputFormatLimits,
} from './output-format.js';
export { cosineSimilarity, rankBySimilarity, type RankedCandidate, type RankOptions } from './similarity.js';
export {
  CancelledError,
  defineProcessor,
  defineTool,
  type AskOptions,
  type ContextSizeBound,
  type ModelInfo,
  type ProcessorChatOptions,
  type ProcessorStore,
  type ProcessorTool,
  type PersonalityView,
  type ProcessorContext,
  type ProcessorDefinition,
  type ProcessorGenerateOptions,
  type SettingsTemplate,
  type SettingTemplate,
  type SettingType,
  type SettingValue,
  type WorkflowInput,
} from './processor.js';
