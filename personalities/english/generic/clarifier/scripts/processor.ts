/**
 * Clarifier: ask the user, then answer.
 *
 * 1. The model reads the request and says, in a fixed JSON shape (`ctx.generate` with a schema), whether it is
 *    clear, which question would settle it, and up to four short answers to offer.
 * 2. When it is not clear (or `ask` is `always`), `ctx.ask` puts the question to the user: the client gets
 *    `generation_ask` (with the offered answers as `choices` when there are at least two) and the workflow
 *    waits for `generation_answer`. Waiting does not count against the wall time limit.
 * 3. The answer is written with the user's reply in the prompt, and streamed.
 *
 * Where nobody can answer (`LH_ERR_ASK_UNAVAILABLE` over the OpenAI-compatible API, `LH_ERR_ASK_TIMEOUT`), it
 * answers anyway, and says what it had to assume.
 */
import { defineProcessor, type JsonSchema } from 'lollms-host/plugin-api';

/** What the model says about the request. */
export interface Assessment {
  clear: boolean;
  question: string;
  options: string[];
}

export const ASSESSMENT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    clear: { type: 'boolean' },
    question: { type: 'string', maxLength: 200 },
    options: { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 40 } },
  },
  required: ['clear', 'question', 'options'],
  additionalProperties: false,
};

export function assessmentPrompt(request: string): string {
  return [
    '!@>instruction:',
    'Read the request below. Is it clear enough to answer well? If not, write the one question that would settle',
    'it, and up to four short possible answers. Answer with JSON only.',
    '!@>request:',
    request,
    '!@>assessment:',
    '',
  ].join('\n');
}

/** The answers worth offering as choices: trimmed, non-empty, distinct, at most four; none when fewer than two. */
export function choicesOf(options: readonly string[]): string[] | undefined {
  const seen = [...new Set(options.map((o) => o.trim()).filter((o) => o !== ''))].slice(0, 4);
  return seen.length >= 2 ? seen : undefined;
}

/** The question to ask: the model's, or a general one when it wrote none. */
export function questionOf(assessment: Assessment): string {
  const question = assessment.question.trim();
  return question !== '' ? question : 'Could you tell me a little more about what you need?';
}

export function answerPrompt(request: string, clarification: { question: string; answer: string } | undefined, assumption: string | undefined): string {
  return [
    '!@>instruction:',
    'Answer the request below.',
    ...(clarification ? [`You asked the user: ${clarification.question}`, `The user answered: ${clarification.answer}`] : []),
    ...(assumption ? [`The user could not be asked; ${assumption}`] : []),
    '!@>request:',
    request,
    '!@>answer:',
    '',
  ].join('\n');
}

export default defineProcessor({
  settings: {
    ask: { type: 'str', value: 'when unclear', options: ['when unclear', 'always', 'never'], help: 'When to ask the user a clarifying question' },
    answer_tokens: { type: 'int', value: 512, min: 16, max: 'ctx_size / 2', help: 'Most tokens of the answer' },
    timeout_s: { type: 'int', value: 300, min: 5, max: 3600, help: 'How long to wait for the user (the host may allow less)' },
  },

  async runWorkflow({ prompt }, ctx) {
    const mode = ctx.settings['ask'];
    let clarification: { question: string; answer: string } | undefined;
    let assumption: string | undefined;
    if (mode !== 'never') {
      ctx.stepStart('Reading the request');
      const assessment = await ctx.generate<Assessment>(assessmentPrompt(prompt), { schema: ASSESSMENT_SCHEMA, maxTokens: 256, temperature: 0.2 });
      ctx.stepEnd('Reading the request');
      if (mode === 'always' || !assessment.clear) {
        const question = questionOf(assessment);
        const choices = choicesOf(assessment.options);
        try {
          const timeoutMs = (typeof ctx.settings['timeout_s'] === 'number' ? ctx.settings['timeout_s'] : 300) * 1000;
          clarification = { question, answer: await ctx.ask(question, { ...(choices ? { choices } : {}), timeoutMs }) };
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code !== 'LH_ERR_ASK_UNAVAILABLE' && code !== 'LH_ERR_ASK_TIMEOUT') throw error;
          assumption = `the most common reading of the request was assumed (${question})`;
          ctx.info(code === 'LH_ERR_ASK_TIMEOUT' ? 'No answer came in time; answering with an assumption.' : 'Nobody can be asked here; answering with an assumption.');
        }
      }
    }
    const maxTokens = typeof ctx.settings['answer_tokens'] === 'number' ? ctx.settings['answer_tokens'] : 512;
    const answer = await ctx.generate(answerPrompt(prompt, clarification, assumption), { maxTokens, stream: true });
    ctx.full(answer);
    return answer;
  },
});
