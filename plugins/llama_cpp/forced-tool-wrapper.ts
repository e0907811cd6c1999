/**
 * A forced tool call (`toolChoice: 'required'` or `{ name }`). node-llama-cpp calls functions in the model's
 * own syntax: it detects the call prefix the chat wrapper defines, then constrains the function name to the
 * available ones and the parameters to their schema with grammars. This wrapper wraps the model's chat
 * wrapper and makes every response start in that function-calling mode, with the call prefix injected at the
 * start of the response, so the model's first output is a call, grammar-forced to a valid name and valid
 * arguments (even on a random model). Everything else (rendering, function documentation, results) is the
 * wrapped wrapper's.
 */
import {
  ChatWrapper,
  LlamaText,
  type ChatHistoryItem,
  type ChatModelFunctionCall,
  type ChatModelFunctions,
  type ChatModelResponse,
  type ChatWrapperGenerateContextStateOptions,
  type ChatWrapperGeneratedContextState,
  type ChatWrapperGenerateInitialHistoryOptions,
  type ChatWrapperSettings,
} from 'node-llama-cpp';

export class ForcedToolCallChatWrapper extends ChatWrapper {
  readonly wrapperName: string;
  override readonly settings: ChatWrapperSettings;

  constructor(private readonly base: ChatWrapper) {
    super();
    this.wrapperName = base.wrapperName;
    this.settings = base.settings;
  }

  override generateContextState(options: ChatWrapperGenerateContextStateOptions): ChatWrapperGeneratedContextState {
    const state = this.base.generateContextState(options);
    if (state.functionCall) {
      // Wrappers that start responses in function-calling mode (Functionary): never let the model leave it.
      return {
        contextText: state.contextText,
        stopGenerationTriggers: state.stopGenerationTriggers,
        ...(state.ignoreStartText ? { ignoreStartText: state.ignoreStartText } : {}),
        functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] },
      };
    }
    return {
      contextText: state.contextText,
      stopGenerationTriggers: state.stopGenerationTriggers,
      noPrefixTrigger: { type: 'functionCall', inject: LlamaText(this.settings.functions.call.prefix) },
      detectFunctionCalls: false,
    };
  }

  override generateFunctionCallsAndResults(functionCalls: ChatModelFunctionCall[], useRawCall?: boolean) {
    return this.base.generateFunctionCallsAndResults(functionCalls, useRawCall);
  }

  override generateFunctionCall(name: string, params: unknown): LlamaText {
    return this.base.generateFunctionCall(name, params);
  }

  override generateFunctionCallResult(functionName: string, functionParams: unknown, result: unknown): LlamaText {
    return this.base.generateFunctionCallResult(functionName, functionParams, result);
  }

  override generateModelResponseText(modelResponse: ChatModelResponse['response'], useRawValues?: boolean): LlamaText {
    return this.base.generateModelResponseText(modelResponse, useRawValues);
  }

  override generateAvailableFunctionsSystemText(availableFunctions: ChatModelFunctions, options: { documentParams?: boolean }): LlamaText {
    return this.base.generateAvailableFunctionsSystemText(availableFunctions, options);
  }

  override addAvailableFunctionsSystemMessageToHistory(history: readonly ChatHistoryItem[], availableFunctions?: ChatModelFunctions, options?: { documentParams?: boolean }) {
    return this.base.addAvailableFunctionsSystemMessageToHistory(history, availableFunctions, options);
  }

  override generateInitialChatHistory(options?: ChatWrapperGenerateInitialHistoryOptions): ChatHistoryItem[] {
    return this.base.generateInitialChatHistory(options);
  }
}
