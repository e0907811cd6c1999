/**
 * One personality-mode turn (lollms-reference §5.1 with the fixes of issue 4): the processor's
 * `processModelInput`, the prompt from the conditioning and the discussion, then either the model (the
 * personality's sampling, its anti-prompts as stop strings) or the processor's `runWorkflow`, then
 * `processModelOutput`; the answer is recorded in the discussion and returned.
 */
import { MSG_TYPE, msgTypeName, type ProcessorGenerateOptions } from '../../plugin-api/index.js';
import { ContextOverflow, ProcessorUnavailable, TextTooLong, TokenizerUnavailable } from '../errors.js';
import type { HeldPersonality, MountedPersonality } from '../personalities/manager.js';
import type { PersonalityVersion } from '../personalities/version.js';
import { createSandboxBudget, type ProcessorHook, type SandboxCall, type SandboxHostApi } from '../sandbox/index.js';
import type { CpuAccount } from '../util/cpu-account.js';
import { Discussion } from './discussion.js';
import { assemblePrompt, recordAnswer } from './prompt.js';
import { samplingFor, withOverrides, type PersonalitySampling } from './sampling.js';
import { finishReasonOf, type Turn, type TurnResult } from './turn.js';
import type { FinishReason } from './types.js';

/** What the turn reads of the personality's processor settings. */
export interface PersonalitySettingsSource {
  readSettings(mounted: MountedPersonality): Promise<{ values: Record<string, unknown> }>;
}

type ProcessorCfgFlag = 'custom_workflow' | 'process_model_input' | 'process_model_output';
const HOOK_FLAGS: Record<ProcessorHook, ProcessorCfgFlag> = {
  runWorkflow: 'custom_workflow',
  processModelInput: 'process_model_input',
  processModelOutput: 'process_model_output',
};

/**
 * Which processor hooks run: those `processor_cfg` switches on, as in the original; without `processor_cfg`,
 * every hook the processor defines (the original failed with a KeyError there). A personality with no
 * processor script at all runs as a plain personality whatever `processor_cfg` says (its load logged a
 * warning). A Python-only processor, or a flag for a hook `processor.ts` does not define, is an error that
 * says so.
 */
export function enabledHooks(mounted: MountedPersonality, version: PersonalityVersion): Record<ProcessorHook, boolean> {
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
    return { runWorkflow: false, processModelInput: false, processModelOutput: false };
  }
  const missing = wanted.filter((h) => !version.processor!.hooks[h]);
  if (missing.length > 0) throw ProcessorUnavailable(`personality "${mounted.name}": processor_cfg asks for ${missing.map((h) => HOOK_FLAGS[h]).join(', ')}, but scripts/processor.ts defines no ${missing.join(', ')}`);
  return enabled;
}

/**
 * The host side of a processor's `ctx` for one turn: model calls with the personality's sampling as
 * defaults and its anti-prompts as stop strings; text and messages go to the turn's sink.
 */
function sandboxHost(turn: Turn, sampling: PersonalitySampling, mounted: MountedPersonality): SandboxHostApi {
  const { model, counter } = turn;
  const log = turn.logger.child({ personality: mounted.path });
  const loaded = model.model;
  return {
    async generate(prompt: string, options: ProcessorGenerateOptions, callSignal: AbortSignal, cpu?: CpuAccount) {
      // Counting the prompt is host work for the processor (its CPU limit); the model's own work is not.
      // Past the context size only that it does not fit matters: a long prompt's end is counted, not all of it.
      const promptTokens = await counter.count(prompt, { ...(cpu ? { cpu } : {}), atMost: loaded.contextSize });
      const room = loaded.contextSize - promptTokens;
      if (room < 1) throw ContextOverflow(`the prompt (${promptTokens >= loaded.contextSize + 16 ? 'at least ' : ''}${promptTokens} tokens) does not fit the model's context (${loaded.contextSize} tokens)`);
      const merged = withOverrides(sampling, options);
      const result = await turn.generate(prompt, {
        ...merged,
        maxTokens: Math.min(merged.maxTokens, room),
        stop: [...sampling.stop, ...(options.stop ?? [])],
        signal: callSignal,
        ...(options.stream ? { onChunk: (chunk: string) => turn.sink.draft(chunk) } : {}),
      });
      return result.text;
    },
    async tokenize(text, cpu) {
      if (!loaded.tokenize) throw TokenizerUnavailable(`the binding "${model.binding}" cannot tokenize: its model has no tokenizer the host can reach`);
      // Texts are tokenized in full here, and tokenizing is superlinear on some inputs: the same cap as the event's.
      const max = turn.settings.max_tokenize_chars;
      if (text.length > max) throw TextTooLong(`ctx.tokenize: the text (${text.length} characters) is longer than max_tokenize_chars (${max})`);
      return loaded.tokenize(text, cpu ? { onCpuTime: (ns) => cpu.add(ns) } : {});
    },
    async detokenize(tokens) {
      if (!loaded.detokenize) throw TokenizerUnavailable(`the binding "${model.binding}" cannot detokenize: its model has no tokenizer the host can reach`);
      const max = turn.settings.max_detokenize_ids;
      if (tokens.length > max) throw TextTooLong(`ctx.detokenize: ${tokens.length} token ids are more than max_detokenize_ids (${max})`);
      return loaded.detokenize(tokens);
    },
    emit(type, content, metadata) {
      if (type === MSG_TYPE.MSG_TYPE_CHUNK) turn.sink.draft(content);
      else turn.sink.message({ type, typeName: msgTypeName(type) ?? `MSG_TYPE_${type}`, content, metadata });
    },
    log(level, message) {
      log[level]({ source: 'processor' }, message);
    },
  };
}

/** Run a personality's turn with `held` (released by the caller). Without a discussion, the turn starts from none and records nothing. */
export async function runPersonalityTurn(turn: Turn, held: HeldPersonality, settingsSource: PersonalitySettingsSource): Promise<TurnResult> {
  const { request, signal, model } = turn;
  const { mounted } = held;
  const version = held.lease.value;
  const personality = version.config;
  const hooks = enabledHooks(mounted, version);
  const sampling = samplingFor(personality, turn.settings);
  if (request.stop?.length) sampling.stop.push(...request.stop);
  const nPredicts = request.sampling?.maxTokens ?? sampling.maxTokens;
  const discussion = request.discussion ?? new Discussion();

  let call: SandboxCall | undefined;
  const processor = version.processor;
  if (processor) {
    const { values: settings } = await settingsSource.readSettings(mounted);
    // One budget for the turn: host calls, message bytes and wall time are shared by its three hooks.
    call = { host: sandboxHost(turn, sampling, mounted), settings, personality: personality.view(), signal, budget: createSandboxBudget() };
  }
  const runHook = (hook: ProcessorHook, input: Parameters<NonNullable<typeof processor>['run']>[1]) => processor!.run(hook, input, call!);

  const processed = hooks.processModelInput ? await runHook('processModelInput', request.prompt) : request.prompt;
  const assembled = await assemblePrompt({
    personality,
    blocks: discussion.blocks,
    prompt: request.prompt,
    processedPrompt: processed,
    customWorkflow: hooks.runWorkflow,
    config: turn.settings,
    ctxSize: model.model.contextSize,
    nPredicts,
    counter: turn.counter,
    countBlocks: (blocks) => discussion.countBlocks(blocks, turn.counter, model.model.contextSize),
  });
  turn.prompted(assembled.modelInput, held.id);
  if (signal.aborted) return { text: '', finishReason: 'cancelled' };

  let answer: string;
  let finishReason: FinishReason = 'stop';
  if (hooks.runWorkflow) {
    answer = await runHook('runWorkflow', { prompt: request.prompt, previousDiscussion: assembled.previousDiscussion });
  } else {
    // Text that processModelOutput rewrites afterwards is a draft, not the answer.
    const stream = hooks.processModelOutput ? (chunk: string) => turn.sink.draft(chunk) : (chunk: string) => turn.sink.answer(chunk);
    const result = await turn.generate(assembled.modelInput, { ...sampling, maxTokens: assembled.maxTokens, onChunk: stream });
    answer = result.text;
    finishReason = finishReasonOf(result.stopReason);
  }
  if (hooks.processModelOutput && !signal.aborted) answer = await runHook('processModelOutput', answer);
  // As in the original, a cancelled turn still records its partial answer.
  if (request.discussion) {
    const blocks = recordAnswer(assembled.blocksAfterUser, answer, { personality, customWorkflow: hooks.runWorkflow });
    await request.discussion.commit(blocks, turn.counter, model.model.contextSize);
  }
  return { text: answer, finishReason };
}
