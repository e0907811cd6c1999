/**
 * Tree Of Thoughts: for each of `nb_ideas` levels, proposes `nb_samples_per_idea` candidate ideas (each one
 * reported as a step), asks the model to judge which candidate is best, and builds the next level on the chosen
 * one. Ends with a summary of the chosen ideas, sent whole (MSG_TYPE_FULL) and as a JSON message with the tree.
 *
 * Behaviour of the original zoo's generic/tree_of_thoughts, with its bugs fixed: when the judge names no valid
 * candidate, the fallback keeps one that exists (the original's fallback was off by one and could pick a
 * candidate past the end), and a candidate index is only taken as a whole word in range.
 */
import { defineProcessor, type ProcessorContext } from 'lollms-host/plugin-api';

/** An integer setting, or `fallback` when the value is not one (it always is: the host validates settings). */
function intSetting(ctx: ProcessorContext, name: string, fallback: number): number {
  const value = ctx.settings[name];
  return typeof value === 'number' && Number.isInteger(value) ? value : fallback;
}

function numbered(items: readonly string[], label = ''): string {
  return items.map((item, i) => `${label}${i + 1}. ${item}`).join('\n');
}

const NUMBER_WORDS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** What the judge's answer selects. */
export interface Selection {
  /** 0-based index of the chosen candidate, always in `[0, count)`. */
  index: number;
  /** False when the answer named no candidate in range and the fallback (the first candidate) was kept. */
  judged: boolean;
}

/**
 * The candidate the judge's answer names: the first whole-word number (`2`, `#2`, `two`) that is a candidate
 * number from 1 to `count`. Numbers out of range and digits inside longer numbers are skipped. Without one, the
 * first candidate is kept (`judged: false`).
 */
export function pickCandidate(answer: string, count: number): Selection {
  const pattern = /\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b/gi;
  for (const match of answer.matchAll(pattern)) {
    const word = match[1]!.toLowerCase();
    const number = /^\d+$/.test(word) ? Number(word) : NUMBER_WORDS.indexOf(word) + 1;
    if (number >= 1 && number <= count) return { index: number - 1, judged: true };
  }
  return { index: 0, judged: false };
}

/** The prompt for one more candidate at a level. */
export function candidatePrompt(prompt: string, chosen: readonly string[], siblings: readonly string[]): string {
  return [
    '!@>instruction:',
    'Think about the prompt below and write ONE short idea that takes the reasoning one step further.',
    ...(siblings.length > 0 ? ['It must be different from the other candidate ideas listed.'] : []),
    '!@>prompt:',
    prompt,
    ...(chosen.length > 0 ? ['!@>ideas so far:', numbered(chosen)] : []),
    ...(siblings.length > 0 ? ['!@>other candidate ideas:', numbered(siblings)] : []),
    '!@>idea:',
    '',
  ].join('\n');
}

/** The prompt of the judge call; it ends where the model must write a candidate number. */
export function judgePrompt(prompt: string, chosen: readonly string[], candidates: readonly string[]): string {
  return [
    '!@>instruction:',
    `Which of these ${candidates.length} ideas is the best next step to answer the prompt? Answer with its number only.`,
    '!@>prompt:',
    prompt,
    ...(chosen.length > 0 ? ['!@>ideas so far:', numbered(chosen)] : []),
    '!@>candidate ideas:',
    numbered(candidates, 'idea '),
    '!@>judgement:',
    'The best idea is idea number',
  ].join('\n');
}

/** The prompt of the final summary. */
export function summaryPrompt(prompt: string, chosen: readonly string[]): string {
  return [
    '!@>instruction:',
    'Using the chosen ideas, write a clear and complete answer to the prompt.',
    '!@>prompt:',
    prompt,
    '!@>chosen ideas:',
    numbered(chosen),
    '!@>answer:',
    '',
  ].join('\n');
}

export default defineProcessor({
  settings: {
    nb_ideas: { type: 'int', value: 3, min: 1, max: 10, help: 'Number of levels of the tree (one idea is kept per level)' },
    nb_samples_per_idea: { type: 'int', value: 3, min: 1, max: 10, help: 'Candidate ideas proposed at each level' },
    max_thought_size: { type: 'int', value: 128, min: 8, max: 4096, help: 'Maximum number of tokens of one candidate idea' },
    max_judgement_size: { type: 'int', value: 16, min: 1, max: 1024, help: 'Maximum number of tokens of the judge answer' },
    max_summary_size: { type: 'int', value: 512, min: 16, max: 8192, help: 'Maximum number of tokens of the summary' },
  },

  async runWorkflow({ prompt }, ctx) {
    const levels = intSetting(ctx, 'nb_ideas', 3);
    const samples = intSetting(ctx, 'nb_samples_per_idea', 3);
    const thoughtSize = intSetting(ctx, 'max_thought_size', 128);
    const judgementSize = intSetting(ctx, 'max_judgement_size', 16);
    const summarySize = intSetting(ctx, 'max_summary_size', 512);

    const treeLayers: string[][] = [];
    const selections: number[] = [];
    const chosen: string[] = [];
    for (let level = 1; level <= levels; level++) {
      const label = `Level ${level}/${levels}: exploring ${samples} idea${samples === 1 ? '' : 's'}`;
      ctx.stepStart(label);
      try {
        const candidates: string[] = [];
        for (let j = 1; j <= samples; j++) {
          const idea = (await ctx.generate(candidatePrompt(prompt, chosen, candidates), { maxTokens: thoughtSize })).trim();
          candidates.push(idea);
          ctx.step(`Idea ${j}: ${idea}`);
        }
        let selection: Selection = { index: 0, judged: false };
        if (candidates.length > 1) {
          const judgement = await ctx.generate(judgePrompt(prompt, chosen, candidates), {
            maxTokens: judgementSize,
            temperature: 0.1,
            topK: 1,
          });
          selection = pickCandidate(judgement, candidates.length);
          ctx.step(
            selection.judged
              ? `Judgement: idea ${selection.index + 1} (${judgement.trim()})`
              : `Judgement: no idea from 1 to ${candidates.length} named (${judgement.trim()}); keeping idea 1`,
          );
        }
        treeLayers.push(candidates);
        selections.push(selection.index);
        chosen.push(candidates[selection.index]!);
      } catch (error) {
        // Close the step as failed, unless the client cancelled (then every ctx call throws a CancelledError;
        // compare the name, `instanceof` does not match across the sandbox boundary).
        if ((error as Error).name !== 'CancelledError') ctx.stepEnd(label, false);
        throw error;
      }
      ctx.stepEnd(label);
    }

    const summary = await ctx.generate(summaryPrompt(prompt, chosen), { maxTokens: summarySize });
    ctx.full(summary);
    ctx.json('tree', { tree_layers: treeLayers, selections, summary });
    return summary;
  },
});
