/**
 * Chat mode (`kind: 'chat'`): the request's messages through one chat round (`chatRound`: the model's own chat
 * template, or the fallback template over `generate`), with the request's sampling over the config's, its stop
 * strings, output format and tools. The answer streams to the sink as `answer`; a thinking model's reasoning as
 * `draft`. What comes back is validated in the host (`chatRound`).
 */
import type { ChatResult } from '../../plugin-api/index.js';
import { errorCode } from '../errors.js';
import { configSampling, withOverrides } from './sampling.js';
import { finishReasonOf, type Turn, type TurnResult } from './turn.js';

export async function runChatTurn(turn: Turn): Promise<TurnResult> {
  const { request, sink } = turn;
  const sampling = withOverrides(configSampling(turn.settings), request.sampling);
  let modelResult: ChatResult | undefined;
  try {
    const result = await turn.chat(request.messages ?? [], {
      ...sampling,
      ...(request.stop?.length ? { stop: request.stop } : {}),
      ...(request.format ? { format: request.format } : {}),
      ...(request.tools ? { tools: request.tools } : {}),
      ...(request.toolChoice ? { toolChoice: request.toolChoice } : {}),
      onChunk: (chunk) => sink.answer(chunk),
      onReasoningChunk: (chunk) => sink.draft(chunk),
      onModelResult: (result) => (modelResult = result),
    });
    turn.logger.debug({ ...result.timings, stop: result.stopReason }, 'chat generation done');
    return {
      text: result.text,
      finishReason: finishReasonOf(result.stopReason),
      ...(result.toolCalls && result.toolCalls.length > 0 ? { toolCalls: result.toolCalls } : {}),
    };
  } catch (error) {
    // A JSON answer cut by the token limit cannot be complete: it is the answer, with finish reason `length`
    // (as OpenAI answers), not an invalid output. Any other invalid output stays an error.
    if (errorCode(error) === 'LH_ERR_OUTPUT_INVALID' && modelResult?.stopReason === 'maxTokens' && !modelResult.toolCalls?.length) {
      return { text: modelResult.text, finishReason: 'length' };
    }
    throw error;
  }
}
