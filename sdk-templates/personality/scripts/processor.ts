/**
 * The processor of the {{name}} personality, made by `lollms-host new personality --with-processor`.
 *
 * With `processor_cfg.custom_workflow: true` in config.yaml, `runWorkflow` replaces the model call. This one
 * drafts an answer, then (when the `review` setting is on) asks the model to improve the draft and streams
 * the result; each phase is a step that clients show. See docs/writing-a-personality.md in lollms-host.
 *
 * A processor runs in a sandbox (isolated-vm) with memory and time limits: there is no fs, network or
 * process, and everything it does goes through `ctx`. It may import `lollms-host/plugin-api` and relative
 * files of this folder, nothing else.
 *
 * Beyond ctx.generate and steps, ctx offers (plugin API 1.1, see "Workflow primitives" in the guide): answers
 * forced into a JSON schema (`ctx.generate(prompt, { schema })`), `ctx.chat` with the model's chat template and
 * tools whose handlers run here, `ctx.embed` with `rankBySimilarity`, `ctx.ask` to ask the user, another
 * personality's answer with `ctx.callPersonality`, `ctx.state` kept per discussion, `ctx.store` kept per
 * personality, and `ctx.model` (name, context size).
 */
import { defineProcessor, type ProcessorContext, type WorkflowInput } from 'lollms-host/plugin-api';

/**
 * The model input that makes the model answer the user. With a custom workflow, `previousDiscussion` is the
 * conditioning and the discussion so far, ending with the user's message (no AI prefix yet, so that the
 * workflow chooses how the answer starts); this adds the link text and the AI prefix, as the host does for a
 * personality without a workflow.
 */
export function answerPrompt(input: WorkflowInput, ctx: ProcessorContext): string {
  return input.previousDiscussion + ctx.personality.link_text + ctx.personality.ai_message_prefix;
}

/** The prompt that asks the model to improve `draft`, its first answer to `question`. */
export function reviewPrompt(question: string, draft: string): string {
  return [
    '!@> Instructions:',
    'Improve the draft answer below: fix mistakes, remove repetitions, keep it short.',
    '!@> Question:',
    question,
    '!@> Draft answer:',
    draft,
    '!@> Improved answer:',
    '',
  ].join('\n');
}

/** Run `work` inside a step; the step is closed as failed when `work` throws, unless the client cancelled. */
async function inStep<T>(ctx: ProcessorContext, label: string, work: () => Promise<T>): Promise<T> {
  ctx.stepStart(label);
  try {
    const result = await work();
    ctx.stepEnd(label);
    return result;
  } catch (error) {
    // After a cancel every ctx call throws a CancelledError (compare the name: instanceof does not work
    // across the sandbox boundary).
    if ((error as Error).name !== 'CancelledError') ctx.stepEnd(label, false);
    throw error;
  }
}

export default defineProcessor({
  // Settings: clients read and change them with get_personality_settings / set_personality_settings; the
  // host validates and saves them per personality, and the processor reads them as ctx.settings.
  settings: {
    review: { type: 'bool', value: true, help: 'Let the model improve its draft before answering' },
    // max follows the loaded model: half its context, so that the prompt keeps room.
    max_tokens: { type: 'int', value: 256, min: 1, max: 'ctx_size / 2', help: 'Most tokens of the draft and of the improved answer' },
  },

  async runWorkflow(input, ctx) {
    const maxTokens = typeof ctx.settings['max_tokens'] === 'number' ? ctx.settings['max_tokens'] : 256;
    if (ctx.settings['review'] === false) {
      // One streamed answer, as the personality would give without a workflow.
      return ctx.generate(answerPrompt(input, ctx), { maxTokens, stream: true });
    }
    const draft = await inStep(ctx, 'Drafting an answer', () => ctx.generate(answerPrompt(input, ctx), { maxTokens }));
    // stream: true sends the chunks to the client as they come; the returned text is the answer.
    return inStep(ctx, 'Improving the draft', () => ctx.generate(reviewPrompt(input.prompt, draft.trim()), { maxTokens, stream: true }));
  },
});
