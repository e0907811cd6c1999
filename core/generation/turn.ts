/**
 * What one generation's mode (raw, personality) gets from the service: the request, the gated sink, the model
 * with its token counter, the settings, and a `generate` that counts usage. Nothing here knows a transport.
 */
import type { ChatMessage, ChatOptions, ChatResult, GenerateOptions, GenerateResult, StopReason, ToolCall } from '../../plugin-api/index.js';
import type { ActiveModel } from '../bindings/manager.js';
import type { HostConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { ChatRoundResult } from './chat.js';
import type { TokenCounter } from './token-count.js';
import type { FinishReason, GenerationRequest, GenerationSink } from './types.js';

/** The host config keys a generation reads (read once per request). */
export type GenerationSettings = Pick<
  HostConfig,
  | 'n_predict' | 'temperature' | 'top_k' | 'top_p' | 'repeat_penalty' | 'repeat_last_n' | 'seed'
  | 'override_personality_model_parameters' | 'use_user_name_in_discussions' | 'discussion_prompt_separator' | 'user_name'
  | 'sandbox_max_tool_rounds' | 'sandbox_ask_timeout_ms' | 'sandbox_max_call_depth'
>;

/**
 * The request as a mode sees it: `prompt` resolved (`''` when the request had none), and for a personality
 * driven by `messages`, the text the client's system messages add to the conditioning.
 */
export interface TurnRequest extends GenerationRequest {
  prompt: string;
  /** Added to the personality's conditioning (a chat's system messages, joined). */
  conditioning?: string;
}

/** Options of `Turn.chat`: the binding's, plus a look at the model's own result before the host validates it. */
export interface TurnChatOptions extends ChatOptions {
  /** Called with what the binding answered, before `chatRound` validates it (validation may then throw). */
  onModelResult?: (result: ChatResult) => void;
}

export interface Turn {
  readonly request: TurnRequest;
  /** The caller's sink, behind the cancel gate: after a cancel, calls go nowhere. */
  readonly sink: GenerationSink;
  /** Aborted by any cancel of the request. */
  readonly signal: AbortSignal;
  /** The loaded model, leased for the turn. */
  readonly model: ActiveModel;
  /** Its token counter: exact, or an estimate when the binding cannot tokenize. */
  readonly counter: TokenCounter;
  readonly settings: GenerationSettings;
  readonly logger: Logger;
  /** `model.generate`, with the turn's signal unless `options.signal` narrows it; tokens are added to the usage. */
  generate(prompt: string, options: GenerateOptions): Promise<GenerateResult>;
  /**
   * One chat round (`chatRound`: the binding's chat or the fallback template, validated in the host), with the
   * turn's signal and the client's cache session; tokens are added to the usage.
   */
  chat(messages: readonly ChatMessage[], options: TurnChatOptions): Promise<ChatRoundResult>;
  /** Diagnostics: the model input of the turn (`personality` -1 in raw mode). */
  prompted(prompt: string, personality: number): void;
}

/** What a mode returns. */
export interface TurnResult {
  text: string;
  finishReason: FinishReason;
  /** The tools a chat answer called. */
  toolCalls?: ToolCall[];
}

/** The finish reason of a model call. */
export function finishReasonOf(stop: StopReason): FinishReason {
  if (stop === 'maxTokens') return 'length';
  if (stop === 'abort') return 'cancelled';
  if (stop === 'toolCalls') return 'tool_calls';
  return 'stop';
}
