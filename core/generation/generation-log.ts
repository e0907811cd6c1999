/**
 * The one info line each generation leaves in the log (issue 13), whatever its transport: who asked, in which
 * mode, with which personality, how many prompt and answer tokens, how fast, how long, and how it ended (done,
 * cancelled, or failed with its code and cause).
 */
import { errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GenerationOutcome, GenerationRequest } from './types.js';

/** Milliseconds and tokens/s rounded for a log line. */
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function logGeneration(logger: Logger, request: GenerationRequest, startedAt: number, result: { outcome: GenerationOutcome } | { error: unknown }): void {
  const personality = request.personality === undefined ? undefined : 'id' in request.personality ? request.personality.id : request.personality.path;
  const who = {
    client: request.client.id,
    transport: request.client.transport,
    ...(request.client.label !== undefined ? { label: request.client.label } : {}),
    mode: request.kind,
    ...(personality !== undefined ? { personality } : {}),
  };
  if ('outcome' in result) {
    const { usage, timings, finishReason } = result.outcome;
    const outcome = finishReason === 'cancelled' ? 'cancelled' : 'done';
    logger.info(
      {
        ...who,
        prompt_tokens: usage.promptTokens,
        answer_tokens: usage.completionTokens,
        ...(timings.tokensPerSecond !== undefined ? { tokens_per_s: round(timings.tokensPerSecond) } : {}),
        duration_ms: round(timings.totalMs, 0),
        outcome,
        ...(outcome === 'done' ? { finish_reason: finishReason } : {}),
      },
      `generation ${outcome}`,
    );
    return;
  }
  const cause = (result.error as { cause?: unknown } | null)?.cause;
  logger.info(
    {
      ...who,
      duration_ms: round(performance.now() - startedAt, 0),
      outcome: 'error',
      code: errorCode(result.error) ?? null,
      err: errorMessage(result.error),
      ...(cause !== undefined ? { cause: errorMessage(cause) } : {}),
    },
    `generation failed: ${errorMessage(result.error)}`,
  );
}
