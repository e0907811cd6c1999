/**
 * Chain Of Thoughts: builds `nb_ideas` ideas one after the other (each one inside a step, each one seeing the
 * ideas before it), then streams an essay that combines them all and returns it as the answer.
 *
 * Behaviour of the original zoo's generic/chain_of_thoughts, with its bug fixed: the original reset its list of
 * ideas on every iteration, so only the last idea reached the essay.
 */
import { defineProcessor, type ProcessorContext } from 'lollms-host/plugin-api';

/** An integer setting, or `fallback` when the value is not one (it always is: the host validates settings). */
function intSetting(ctx: ProcessorContext, name: string, fallback: number): number {
  const value = ctx.settings[name];
  return typeof value === 'number' && Number.isInteger(value) ? value : fallback;
}

/** `1. first\n2. second` */
function numbered(items: readonly string[]): string {
  return items.map((item, i) => `${i + 1}. ${item}`).join('\n');
}

/** The prompt for idea number `ideas.length + 1`. */
export function ideaPrompt(prompt: string, ideas: readonly string[]): string {
  return [
    '!@>instruction:',
    'Think about the prompt below and write ONE new idea that helps to answer it.',
    'Keep it short, and do not repeat a previous idea.',
    '!@>prompt:',
    prompt,
    ...(ideas.length > 0 ? ['!@>previous ideas:', numbered(ideas)] : []),
    '!@>idea:',
    '',
  ].join('\n');
}

/** The prompt for the essay, listing every idea. */
export function essayPrompt(prompt: string, ideas: readonly string[]): string {
  return [
    '!@>instruction:',
    'Combine these ideas into a comprehensive and detailed essay that answers the prompt.',
    '!@>prompt:',
    prompt,
    '!@>ideas:',
    numbered(ideas),
    '!@>essay:',
    '',
  ].join('\n');
}

export default defineProcessor({
  settings: {
    nb_ideas: { type: 'int', value: 3, min: 1, max: 10, help: 'Number of ideas to build before writing the essay' },
    max_thought_size: { type: 'int', value: 256, min: 8, max: 4096, help: 'Maximum number of tokens of one idea' },
    max_summary_size: { type: 'int', value: 1024, min: 16, max: 8192, help: 'Maximum number of tokens of the essay' },
  },

  async runWorkflow({ prompt }, ctx) {
    const nbIdeas = intSetting(ctx, 'nb_ideas', 3);
    const thoughtSize = intSetting(ctx, 'max_thought_size', 256);
    const summarySize = intSetting(ctx, 'max_summary_size', 1024);

    const ideas: string[] = [];
    for (let k = 1; k <= nbIdeas; k++) {
      const label = `Building idea ${k}/${nbIdeas}`;
      ctx.stepStart(label);
      try {
        const idea = (await ctx.generate(ideaPrompt(prompt, ideas), { maxTokens: thoughtSize })).trim();
        ideas.push(idea);
        ctx.step(`Idea ${k}: ${idea}`);
      } catch (error) {
        // Close the step as failed, unless the client cancelled: then every ctx call throws a CancelledError.
        // (Compare the name: `instanceof CancelledError` does not match across the sandbox boundary.)
        if ((error as Error).name !== 'CancelledError') ctx.stepEnd(label, false);
        throw error;
      }
      ctx.stepEnd(label);
    }

    // The essay is streamed as text_chunk, then sent whole (MSG_TYPE_FULL) and returned as the answer.
    const essay = await ctx.generate(essayPrompt(prompt, ideas), { maxTokens: summarySize, stream: true });
    ctx.full(essay);
    return essay;
  },
});
