/**
 * Calculator Agent: chat with tools.
 *
 * `ctx.chat(messages, { tools })` runs the model's function calling with its own chat template. When the model
 * calls `calculate` or `convert_units`, the tool's handler (a pure function of `tools.ts`) runs here, in the
 * sandbox, its result goes back to the model, and the loop goes on until the model answers in words (at most
 * `max_rounds` model rounds). Each call shows on the client as a step: `Calling calculate`, with the arguments
 * and then the result in its metadata.
 *
 * The conversation (the user's questions and the answers, not the tool calls) is kept in `ctx.state`, per
 * discussion, so a follow-up question sees the earlier ones.
 */
import { defineProcessor, defineTool, type ChatMessage, type ToolChoice } from 'lollms-host/plugin-api';
import { calculate, convertUnits, OPERATIONS, UNITS, type Operation } from './tools.js';

export const calculator = defineTool<{ a: number; op: Operation; b: number }>({
  name: 'calculate',
  description: 'Computes a op b exactly: + - * / ^ (power) % (remainder).',
  parameters: {
    type: 'object',
    properties: { a: { type: 'number' }, op: { enum: [...OPERATIONS] }, b: { type: 'number' } },
    required: ['a', 'op', 'b'],
    additionalProperties: false,
  },
  handler: ({ a, op, b }) => ({ result: calculate(a, op, b) }),
});

export const converter = defineTool<{ value: number; from: string; to: string }>({
  name: 'convert_units',
  description: 'Converts a value between units of length, mass, volume or temperature.',
  parameters: {
    type: 'object',
    properties: { value: { type: 'number' }, from: { enum: [...UNITS] }, to: { enum: [...UNITS] } },
    required: ['value', 'from', 'to'],
    additionalProperties: false,
  },
  handler: ({ value, from, to }) => ({ result: convertUnits(value, from, to), unit: to }),
});

export const SYSTEM_PROMPT =
  'You are Calculator Agent. For any arithmetic or unit conversion, call a tool instead of computing in your head, ' +
  'then answer briefly with the result and its unit.';

/** The turns kept in the discussion's state: the user's questions and the answers, the last `max` of them. */
export function keptHistory(state: Record<string, unknown>, max: number): ChatMessage[] {
  const history = Array.isArray(state['history']) ? (state['history'] as unknown[]) : [];
  return history
    .filter((m): m is ChatMessage => typeof m === 'object' && m !== null && ['user', 'assistant'].includes((m as ChatMessage).role) && typeof (m as ChatMessage).content === 'string')
    .slice(-max);
}

export default defineProcessor({
  settings: {
    tool_choice: { type: 'str', value: 'auto', options: ['auto', 'required'], help: 'auto: the model decides; required: it must call a tool first' },
    max_rounds: { type: 'int', value: 4, min: 1, max: 10, help: 'Most model rounds (each round that calls tools is followed by another)' },
    history_turns: { type: 'int', value: 6, min: 0, max: 50, help: 'Earlier messages of the discussion the model sees' },
  },

  async runWorkflow({ prompt }, ctx) {
    const historyTurns = typeof ctx.settings['history_turns'] === 'number' ? ctx.settings['history_turns'] : 6;
    const history = keptHistory(ctx.state, historyTurns);
    const messages: ChatMessage[] = [{ role: 'system', content: SYSTEM_PROMPT }, ...history, { role: 'user', content: prompt }];
    const answer = await ctx.chat(messages, {
      tools: [calculator, converter],
      toolChoice: (ctx.settings['tool_choice'] === 'required' ? 'required' : 'auto') satisfies ToolChoice,
      maxToolRounds: typeof ctx.settings['max_rounds'] === 'number' ? ctx.settings['max_rounds'] : 4,
    });
    ctx.state['history'] = [...history, { role: 'user', content: prompt }, { role: 'assistant', content: answer }].slice(-Math.max(historyTurns, 2));
    return answer;
  },
});
