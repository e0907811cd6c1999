/**
 * Planner: plan with a schema, then write each part.
 *
 * 1. The plan: `ctx.generate(prompt, { schema })`. The host turns the schema into a grammar, so the model can
 *    only produce JSON of that shape (even a tiny random model does), validates the result against the whole
 *    schema, and the call resolves to the parsed plan. A plan that cannot be made (the token limit cut it, a
 *    binding without grammars) falls back to one part, with a warning.
 * 2. Each part: one `ctx.generate` per heading, in a step, streamed to the client; it sees the plan and the
 *    parts written before it, cut to fit the model's context (`ctx.model.contextSize`).
 * 3. The answer: the title and the parts, sent whole (`MSG_TYPE_FULL`) and returned.
 */
import { defineProcessor, type JsonSchema, type ProcessorContext } from 'lollms-host/plugin-api';

/** One part of a plan. */
export interface PlanPart {
  heading: string;
  goal: string;
}

/** A plan, as the schema forces it. */
export interface Plan {
  title: string;
  parts: PlanPart[];
}

/** The plan's JSON schema, for at most `maxParts` parts (lengths keep a forced answer short). */
export function planSchema(maxParts: number): JsonSchema {
  return {
    type: 'object',
    properties: {
      title: { type: 'string', minLength: 1, maxLength: 80 },
      parts: {
        type: 'array',
        minItems: 1,
        maxItems: maxParts,
        items: {
          type: 'object',
          properties: {
            heading: { type: 'string', minLength: 1, maxLength: 60 },
            goal: { type: 'string', maxLength: 160 },
          },
          required: ['heading', 'goal'],
          additionalProperties: false,
        },
      },
    },
    required: ['title', 'parts'],
    additionalProperties: false,
  };
}

/** The prompt that asks for the plan. */
export function planPrompt(request: string, maxParts: number): string {
  return [
    '!@>instruction:',
    `Make a plan to answer the request below: a title, then 1 to ${maxParts} parts, each with a short heading and the goal of the part.`,
    'Answer with JSON only.',
    '!@>request:',
    request,
    '!@>plan:',
    '',
  ].join('\n');
}

/** The prompt that writes part `index` of `plan`, after the parts written so far. */
export function partPrompt(request: string, plan: Plan, index: number, written: readonly string[]): string {
  const part = plan.parts[index]!;
  return [
    '!@>instruction:',
    `You are writing "${plan.title}", part ${index + 1} of ${plan.parts.length}: "${part.heading}".`,
    `Goal of this part: ${part.goal}`,
    'Write only this part, in a few paragraphs.',
    '!@>request:',
    request,
    '!@>outline:',
    plan.parts.map((p, i) => `${i + 1}. ${p.heading}`).join('\n'),
    ...(written.length > 0 ? ['!@>written so far:', written.join('\n\n')] : []),
    `!@>part ${index + 1}:`,
    '',
  ].join('\n');
}

/** The document: the title, then each heading with its text. */
export function document(plan: Plan, texts: readonly string[]): string {
  return [`# ${plan.title.trim()}`, ...plan.parts.map((p, i) => `## ${p.heading.trim()}\n\n${(texts[i] ?? '').trim()}`)].join('\n\n');
}

/** Keep the end of `text` within about `maxChars` characters (the most recent parts matter most). */
export function keepTail(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : text.slice(text.length - maxChars);
}

function intSetting(ctx: ProcessorContext, name: string, fallback: number): number {
  const value = ctx.settings[name];
  return typeof value === 'number' && Number.isInteger(value) ? value : fallback;
}

export default defineProcessor({
  settings: {
    max_parts: { type: 'int', value: 4, min: 1, max: 8, help: 'Most parts in a plan' },
    plan_tokens: { type: 'int', value: 1024, min: 64, max: 'ctx_size / 2', help: 'Most tokens of the plan (JSON)' },
    part_tokens: { type: 'int', value: 384, min: 16, max: 'ctx_size / 2', help: 'Most tokens of each part' },
  },

  async runWorkflow({ prompt }, ctx) {
    const maxParts = intSetting(ctx, 'max_parts', 4);
    const planTokens = intSetting(ctx, 'plan_tokens', 1024);
    const partTokens = intSetting(ctx, 'part_tokens', 384);

    ctx.stepStart('Planning');
    let plan: Plan;
    try {
      plan = await ctx.generate<Plan>(planPrompt(prompt, maxParts), { schema: planSchema(maxParts), maxTokens: planTokens, temperature: 0.3 });
      ctx.stepEnd('Planning');
    } catch (error) {
      if ((error as Error).name === 'CancelledError') throw error;
      // A plan is a help, not a must: go on with a one-part plan, and say so.
      ctx.stepEnd('Planning', false);
      ctx.warning(`No plan could be made (${(error as { code?: string }).code ?? (error as Error).message}); writing in one part.`);
      plan = { title: prompt.slice(0, 80) || 'Answer', parts: [{ heading: 'Answer', goal: 'Answer the request.' }] };
    }
    ctx.json('Plan', plan);

    // What earlier parts a prompt may carry: about a third of the context (some 3 characters a token).
    const carry = Math.max(256, ctx.model.contextSize);
    const texts: string[] = [];
    for (let i = 0; i < plan.parts.length; i++) {
      const label = `Writing part ${i + 1}/${plan.parts.length}: ${plan.parts[i]!.heading}`;
      ctx.stepStart(label);
      try {
        const written = texts.length === 0 ? [] : [keepTail(texts.join('\n\n'), carry)];
        texts.push((await ctx.generate(partPrompt(prompt, plan, i, written), { maxTokens: partTokens, stream: true })).trim());
      } catch (error) {
        if ((error as Error).name !== 'CancelledError') ctx.stepEnd(label, false);
        throw error;
      }
      ctx.stepEnd(label);
    }
    const answer = document(plan, texts);
    ctx.full(answer);
    return answer;
  },
});
