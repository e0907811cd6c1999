/**
 * One personality-mode turn (lollms-reference §5.1 with the fixes of issue 4): the processor's
 * `processModelInput`, the prompt from the conditioning and the discussion, then either the model (the
 * personality's sampling, its anti-prompts as stop strings) or the processor's `runWorkflow`, then
 * `processModelOutput`; the answer is recorded in the discussion and returned.
 */
import { ProcessorUnavailable } from '../errors.js';
import type { HeldPersonality, MountedPersonality } from '../personalities/manager.js';
import type { PersonalityVersion } from '../personalities/version.js';
import { createSandboxBudget, type ProcessorHook, type SandboxCall, type SandboxStoreRequest } from '../sandbox/index.js';
import { Discussion } from './discussion.js';
import { callPersonality, type NestedTurn, type PersonalityCallSource } from './personality-call.js';
import { processorHost } from './processor-host.js';
import { assemblePrompt, recordAnswer } from './prompt.js';
import { samplingFor } from './sampling.js';
import { finishReasonOf, type Turn, type TurnResult } from './turn.js';
import type { FinishReason } from './types.js';

/** What the turn reads of the personality's processor settings. */
export interface PersonalitySettingsSource {
  readSettings(mounted: MountedPersonality): Promise<{ values: Record<string, unknown> }>;
}

/** What a turn uses of the personalities: settings, the store, and the personalities a processor may call. */
export interface PersonalityTurnSource extends PersonalitySettingsSource, PersonalityCallSource {
  /** Run a `ctx.store` operation of the personality mounted as `id` (its mounted path). */
  runStore(id: string, request: SandboxStoreRequest): Promise<unknown>;
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
 * Run a personality's turn with `held` (released by the caller). Without a discussion, the turn starts from none
 * and records nothing. `nested`: the turn runs for another personality's `ctx.callPersonality`.
 */
export async function runPersonalityTurn(turn: Turn, held: HeldPersonality, source: PersonalityTurnSource, nested?: NestedTurn): Promise<TurnResult> {
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
    const { values: settings } = await source.readSettings(mounted);
    // One budget for the turn: host calls, message bytes and wall time are shared by its three hooks (and by the
    // turns of the personalities it calls).
    const budget = nested?.budget ?? createSandboxBudget();
    const chain = nested?.chain ?? [mounted.folder ?? mounted.path];
    const host = processorHost({
      turn,
      sampling,
      personality: mounted.path,
      budget,
      limits: { maxToolRounds: turn.settings.sandbox_max_tool_rounds, askTimeoutMs: turn.settings.sandbox_ask_timeout_ms },
      store: (request) => source.runStore(mounted.path, request),
      callPersonality: (path, prompt, counts, callSignal) =>
        callPersonality({ turn, caller: mounted, chain, budget, source, maxDepth: turn.settings.sandbox_max_call_depth }, runPersonalityTurn, path, prompt, counts, callSignal),
    });
    call = {
      host,
      settings,
      personality: personality.view(),
      signal,
      budget,
      // ctx.state lives with the client's discussion, one per personality; without a discussion it lasts one turn.
      state: request.discussion ? request.discussion.stateSlot(mounted.path) : { json: '{}' },
      model: { name: model.model.name, contextSize: model.model.contextSize },
    };
  }
  const runHook = (hook: ProcessorHook, input: Parameters<NonNullable<typeof processor>['run']>[1]) => processor!.run(hook, input, call!);

  const processed = hooks.processModelInput ? await runHook('processModelInput', request.prompt) : request.prompt;
  const assembled = await assemblePrompt({
    personality,
    blocks: discussion.blocks,
    prompt: request.prompt,
    processedPrompt: processed,
    customWorkflow: hooks.runWorkflow,
    ...(request.conditioning !== undefined ? { conditioningAddition: request.conditioning } : {}),
    config: turn.settings,
    ctxSize: model.model.contextSize,
    nPredicts,
    counter: turn.counter,
    countBlocks: (blocks) => discussion.countBlocks(blocks, turn.counter),
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
