/**
 * Prompt Rewriter: a `processModelInput` example. The user's text is rewritten deterministically before it
 * enters the discussion (no network, no model call):
 * 1. whitespace is normalised (NFC, line breaks unified, control and zero-width characters dropped, runs of
 *    spaces collapsed, at most one blank line, trimmed);
 * 2. the discussion separator `!@>` is neutralised, so a message cannot fake an assistant turn;
 * 3. the question is wrapped in a fixed instruction template, with the answer style of the settings.
 * The model then answers the rewritten text, and the discussion keeps the rewritten text.
 */
import { defineProcessor } from 'lollms-host/plugin-api';

/** How each `answer_style` asks for the answer. */
export const STYLES = {
  concise: 'Answer the question above in a few sentences.',
  detailed: 'Answer the question above in detail, with examples where they help.',
  'step by step': 'Answer the question above step by step, explaining each step.',
} as const;
export type AnswerStyle = keyof typeof STYLES;

/** The separator the discussion format uses between turns. */
const SEPARATOR = '!@>';

/** `text` with normalised whitespace (see the module comment). */
export function normalizeWhitespace(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u200B-\u200D\u2060\uFEFF]/g, '')
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The rewritten user text; an empty (or blank) text stays empty. */
export function rewrite(text: string, options: { style: AnswerStyle; escapeSeparators: boolean }): string {
  let question = normalizeWhitespace(text);
  if (options.escapeSeparators) question = question.split(SEPARATOR).join('!@ >');
  if (question === '') return '';
  return `question:\n${question}\ninstructions:\n${STYLES[options.style]}`;
}

export default defineProcessor({
  settings: {
    answer_style: {
      type: 'str',
      value: 'detailed',
      options: Object.keys(STYLES),
      help: 'How the model is asked to answer: concise, detailed or step by step',
    },
    escape_separators: {
      type: 'bool',
      value: true,
      help: 'Neutralise "!@>" in the user text, so that a message cannot fake a turn of the discussion',
    },
  },

  processModelInput(text, ctx) {
    const style = ctx.settings['answer_style'];
    return rewrite(text, {
      style: typeof style === 'string' && Object.hasOwn(STYLES, style) ? (style as AnswerStyle) : 'detailed',
      escapeSeparators: ctx.settings['escape_separators'] !== false,
    });
  },
});
