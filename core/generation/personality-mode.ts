import type { Host } from '../host.js';
import type { ClientState } from './clients.js';
import type { RequestPayload, ServerEventName, ServerPayload } from '../protocol/index.js';
import { NoModelLoaded } from '../errors.js';
import { PersonalityIdInvalid } from '../personalities/manager.js';
import { assemblePrompt, recordAnswer } from '../personalities/prompt.js';
import { samplingFor } from '../personalities/sampling.js';

export interface PersonalityTurn {
  host: Host;
  client: ClientState;
  request: RequestPayload<'generate_text'>;
  personalityId: number;
  signal: AbortSignal;
  /** Sends a chunk as `text_chunk` unless the generation was cancelled. */
  emitChunk(chunk: string): void;
  emit<E extends ServerEventName>(event: E, payload: ServerPayload<E>): void;
}

/**
 * One personality-mode turn (lollms-reference §5.1 with the fixes of issue 4): assemble the prompt from the
 * conditioning and this client's discussion, generate with the personality's sampling and anti-prompts, and
 * record the answer in the discussion. Returns the answer for `text_generated`.
 */
export async function runPersonalityTurn(turn: PersonalityTurn): Promise<string> {
  const { host, client, request, signal } = turn;
  const mounted = host.personalities.get(turn.personalityId);
  if (!mounted) {
    const count = host.personalities.mounted.length;
    throw PersonalityIdInvalid(`personality ${turn.personalityId} is not mounted (ids 0..${count - 1}; see list_active_personalities)`);
  }
  const personality = mounted.config;
  if (!personality) throw new Error(`personality "${mounted.path}" failed to load: ${mounted.error ?? 'unknown error'}`);
  const cfg = personality.processor_cfg;
  if (host.personalities.hasPythonProcessor(mounted) && cfg && (cfg.custom_workflow || cfg.process_model_input || cfg.process_model_output)) {
    throw new Error(
      `personality "${personality.name}" has a Python processor (scripts/processor.py), and Python processors are not run by lollms-host. ` +
        'Port it to scripts/processor.ts: see docs/writing-a-personality.md, "Porting a Python processor".',
    );
  }

  const lease = host.bindings.acquireModel();
  if (!lease) throw NoModelLoaded('No model loaded: select a binding and a model first (select_binding, select_model)');
  try {
    const model = lease.value.model;
    const values = host.config.values;
    const sampling = samplingFor(personality, values);
    const nPredicts = request.n_predicts ?? sampling.maxTokens;
    const assembled = await assemblePrompt({
      personality,
      blocks: client.blocks,
      prompt: request.prompt,
      config: values,
      ctxSize: model.contextSize,
      nPredicts,
      tokenizer: model,
    });
    host.events.emit('prompt', { client: client.id, personality: turn.personalityId, prompt: assembled.modelInput });
    if (signal.aborted) return '';
    const result = await model.generate(assembled.modelInput, {
      ...sampling,
      maxTokens: assembled.maxTokens,
      signal,
      onChunk: turn.emitChunk,
    });
    // As in the original, a cancelled turn still records its partial answer.
    client.blocks.splice(0, client.blocks.length, ...recordAnswer(assembled.blocksAfterUser, result.text, { personality }));
    return result.text;
  } finally {
    lease.release();
  }
}
