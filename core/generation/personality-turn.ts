import type { Host } from '../host.js';
import type { ClientState } from '../transports/socket/clients.js';
import type { RequestPayload, ServerEventName, ServerPayload } from '../protocol/index.js';
import { ContextOverflow, PersonalityIdInvalid, ProcessorUnavailable } from '../errors.js';
import type { MountedPersonality } from '../personalities/manager.js';
import type { PersonalityVersion } from '../personalities/version.js';
import { assemblePrompt, recordAnswer } from '../personalities/prompt.js';
import { samplingFor, type PersonalitySampling } from './sampling.js';
import type { ActiveModel } from '../bindings/manager.js';
import { createSandboxBudget, type SandboxCall, type SandboxHostApi, type ProcessorHook } from '../sandbox/index.js';
import { msgTypeName, MSG_TYPE, type ProcessorGenerateOptions } from '../../plugin-api/index.js';

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

type ProcessorCfgFlag = 'custom_workflow' | 'process_model_input' | 'process_model_output';
const HOOK_FLAGS: Record<ProcessorHook, ProcessorCfgFlag> = {
  runWorkflow: 'custom_workflow',
  processModelInput: 'process_model_input',
  processModelOutput: 'process_model_output',
};

/**
 * Which processor hooks run: those `processor_cfg` switches on, as in the original; without `processor_cfg`,
 * every hook the processor defines (the original failed with a KeyError there). A flag that asks for a hook
 * the personality cannot run is an error that says so.
 */
function enabledHooks(mounted: MountedPersonality, version: PersonalityVersion): Record<ProcessorHook, boolean> {
  const cfg = version.config.processor_cfg;
  const asked = (hook: ProcessorHook) => (cfg ? cfg[HOOK_FLAGS[hook]] === true : version.processor?.hooks[hook] === true);
  const enabled = { runWorkflow: asked('runWorkflow'), processModelInput: asked('processModelInput'), processModelOutput: asked('processModelOutput') };
  const wanted = (Object.keys(enabled) as ProcessorHook[]).filter((h) => enabled[h]);
  if (wanted.length === 0) return enabled;
  if (!version.processor) {
    if (version.pythonProcessor) {
      throw ProcessorUnavailable(
        `personality "${version.config.name}" has a Python processor (scripts/processor.py), and Python processors are not run by lollms-host. ` +
          'Port it to scripts/processor.ts: see docs/writing-a-personality.md, "Porting a Python processor".',
      );
    }
    throw ProcessorUnavailable(`personality "${mounted.name}": processor_cfg asks for ${wanted.map((h) => HOOK_FLAGS[h]).join(', ')}, but it has no scripts/processor.ts`);
  }
  const missing = wanted.filter((h) => !version.processor!.hooks[h]);
  if (missing.length > 0) throw ProcessorUnavailable(`personality "${mounted.name}": processor_cfg asks for ${missing.map((h) => HOOK_FLAGS[h]).join(', ')}, but scripts/processor.ts defines no ${missing.join(', ')}`);
  return enabled;
}

/**
 * The host side of a processor's `ctx` for one turn: model calls with the personality's sampling as
 * defaults and its anti-prompts as stop strings, and messages forwarded to this client only.
 */
function sandboxHost(turn: PersonalityTurn, model: ActiveModel, sampling: PersonalitySampling, mounted: MountedPersonality): SandboxHostApi {
  const { host, signal } = turn;
  const log = host.logger.child({ personality: mounted.path, client: turn.client.id });
  return {
    async generate(prompt: string, options: ProcessorGenerateOptions, callSignal: AbortSignal) {
      const promptTokens = (await model.model.tokenize(prompt)).length;
      const room = model.model.contextSize - promptTokens;
      if (room < 1) throw ContextOverflow(`the prompt (${promptTokens} tokens) does not fit the model's context (${model.model.contextSize} tokens)`);
      const result = await model.model.generate(prompt, {
        maxTokens: Math.min(options.maxTokens ?? sampling.maxTokens, room),
        temperature: options.temperature ?? sampling.temperature,
        topK: options.topK ?? sampling.topK,
        topP: options.topP ?? sampling.topP,
        repeatPenalty: options.repeatPenalty ?? sampling.repeatPenalty,
        repeatLastN: options.repeatLastN ?? sampling.repeatLastN,
        seed: options.seed ?? sampling.seed,
        stop: [...sampling.stop, ...(options.stop ?? [])],
        signal: callSignal,
        ...(options.stream ? { onChunk: turn.emitChunk } : {}),
      });
      return result.text;
    },
    tokenize: (text) => model.model.tokenize(text),
    detokenize: (tokens) => model.model.detokenize(tokens),
    emit(type, content, metadata) {
      if (signal.aborted) return;
      if (type === MSG_TYPE.MSG_TYPE_CHUNK) turn.emitChunk(content);
      else turn.emit('generation_message', { type, type_name: msgTypeName(type) ?? `MSG_TYPE_${type}`, content, metadata });
    },
    log(level, message) {
      log[level]({ source: 'processor' }, message);
    },
  };
}

/**
 * One personality-mode turn (lollms-reference §5.1 with the fixes of issue 4): the processor's
 * `processModelInput`, the prompt from the conditioning and this client's discussion, then either the model
 * (personality sampling, anti-prompts as stop strings) or the processor's `runWorkflow`, then
 * `processModelOutput`; the answer is recorded in the client's discussion and returned for `text_generated`.
 */
export async function runPersonalityTurn(turn: PersonalityTurn): Promise<string> {
  const { host, client, request, signal } = turn;
  const held = host.personalities.acquire(turn.personalityId);
  if (!held) {
    const mounted = host.personalities.get(turn.personalityId);
    if (mounted) throw new Error(`personality "${mounted.path}" failed to load: ${mounted.error ?? 'unknown error'}`);
    const count = host.personalities.mounted.length;
    throw PersonalityIdInvalid(`personality ${turn.personalityId} is not mounted (ids 0..${count - 1}; see list_active_personalities)`);
  }
  const { mounted, lease } = held;
  let modelLease: ReturnType<typeof host.bindings.requireModel> | undefined;
  try {
    modelLease = host.bindings.requireModel();
    const version = lease.value;
    const personality = version.config;
    const hooks = enabledHooks(mounted, version);
    const model = modelLease.value;
    const values = host.config.values;
    const sampling = samplingFor(personality, values);
    const nPredicts = request.n_predicts ?? sampling.maxTokens;

    let call: SandboxCall | undefined;
    const processor = version.processor;
    if (processor) {
      const { values: settings } = await host.personalities.readSettings(mounted);
      // One budget for the turn: host calls, message bytes and wall time are shared by its three hooks.
      call = { host: sandboxHost(turn, model, sampling, mounted), settings, personality: personality.view(), signal, budget: createSandboxBudget() };
    }
    const runHook = (hook: ProcessorHook, input: Parameters<NonNullable<typeof processor>['run']>[1]) => processor!.run(hook, input, call!);

    const processed = hooks.processModelInput ? await runHook('processModelInput', request.prompt) : request.prompt;
    const assembled = await assemblePrompt({
      personality,
      blocks: client.blocks,
      prompt: request.prompt,
      processedPrompt: processed,
      customWorkflow: hooks.runWorkflow,
      config: values,
      ctxSize: model.model.contextSize,
      nPredicts,
      tokenizer: model.model,
    });
    host.events.emit('prompt', { client: client.id, personality: turn.personalityId, prompt: assembled.modelInput });
    if (signal.aborted) return '';

    let answer: string;
    if (hooks.runWorkflow) {
      answer = await runHook('runWorkflow', { prompt: request.prompt, previousDiscussion: assembled.previousDiscussion });
    } else {
      const result = await model.model.generate(assembled.modelInput, { ...sampling, maxTokens: assembled.maxTokens, signal, onChunk: turn.emitChunk });
      answer = result.text;
    }
    if (hooks.processModelOutput && !signal.aborted) answer = await runHook('processModelOutput', answer);
    // As in the original, a cancelled turn still records its partial answer.
    client.blocks.splice(0, client.blocks.length, ...recordAnswer(assembled.blocksAfterUser, answer, { personality, customWorkflow: hooks.runWorkflow }));
    return answer;
  } finally {
    modelLease?.release();
    lease.release();
  }
}
