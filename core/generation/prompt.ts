/**
 * Personality-mode prompt assembly (lollms-reference §5.1, §5.3) with the fixes of issue 4. Pure functions:
 * the caller owns each client's discussion `blocks` and stores the arrays these functions return.
 *
 * One turn, for a personality with prefixes `ump` (user) and `aip` (AI) and link text `lt`:
 * 1. A new discussion (no blocks yet) starts with `[aip, welcome, lt]` when the personality has a welcome
 *    message and `include_welcome_message_in_disucssion` (sic) is true. The lollms-server never used the
 *    welcome message; the original console app's `reset_context` starts every discussion this way, and the
 *    webui likewise keeps the welcome message visible to the AI only with that flag. We do the same.
 * 2. The user turn: `[ump, processed, lt, aip]`, or `[ump, processed]` for a custom workflow (the workflow
 *    writes the answer itself). An empty prompt adds nothing, as in the original.
 * 3. Model input = conditioning (placeholders filled) ONCE + the discussion, cropped from the left to fit
 *    `ctxSize - nPredicts - conditioningTokens` tokens; the conditioning is never cut.
 * 4. The answer is recorded after its AI prefix and followed by the link text (`recordAnswer`), so the next
 *    turn's user prefix starts on its own line.
 */
import { ContextOverflow } from '../errors.js';
import type { PersonalityConfig } from '../personalities/config.js';
import { tokenCounterFor, type TokenCounter } from './token-count.js';

/** A model's tokenizer, for callers that have no `TokenCounter` (tests with a tokenizer of their own). */
export interface PromptTokenizer {
  tokenize(text: string): Promise<number[]>;
  detokenize(tokens: number[]): Promise<string>;
}

/** The host config keys that shape the user prefix (lollms-reference §5.1 step 1). */
export interface DiscussionConfig {
  /** Use `discussion_prompt_separator + user_name + ": "` instead of the personality's `user_message_prefix`. */
  use_user_name_in_discussions: boolean;
  discussion_prompt_separator: string;
  user_name: string;
}

/** The parts of a personality prompt assembly reads. */
export type PromptPersonality = Pick<
  PersonalityConfig,
  'user_message_prefix' | 'ai_message_prefix' | 'link_text' | 'include_welcome_message_in_disucssion' | 'conditioning' | 'welcomeMessage'
>;

export interface AssemblePromptOptions {
  personality: PromptPersonality;
  /** This client's discussion so far (not modified). */
  blocks: readonly string[];
  /** The user's prompt as sent. */
  prompt: string;
  /** The prompt after `processModelInput` (what enters the discussion); default `prompt`. */
  processedPrompt?: string;
  /** The personality runs a custom workflow: the turn ends after the user text, without link text and AI prefix. */
  customWorkflow?: boolean;
  /** Text added after the personality's conditioning (a chat client's system messages); see `withConditioning`. */
  conditioningAddition?: string;
  config: DiscussionConfig;
  /** Context size of the loaded model, in tokens. */
  ctxSize: number;
  /** Tokens to keep free for the answer. */
  nPredicts: number;
  /** How tokens are counted and cut: the model's counter (exact, or an estimate when it cannot tokenize). */
  counter?: TokenCounter;
  /** A tokenizer to count with when no `counter` is given. */
  tokenizer?: PromptTokenizer;
  /** Token counts of the blocks (a `Discussion` keeps them between turns); default: each block is counted. */
  countBlocks?: (blocks: readonly string[]) => Promise<number[]>;
  /** The time `{{date}}` etc. are filled with; default now. */
  now?: Date;
  /**
   * The fewest tokens the discussion keeps when `nPredicts` would leave it less; default a quarter of what the
   * conditioning leaves. Without it a personality asking for 8192 tokens on a 2048 context (the built-in one
   * does, like the original) would get no discussion at all; the answer's room shrinks instead (`maxTokens`).
   */
  minDiscussionTokens?: number;
}

export interface AssembledPrompt {
  /** The text to generate from: conditioning + cropped discussion. */
  modelInput: string;
  /** What a custom workflow receives as `previousDiscussion` (the original's `conditioning + fd`); equals `modelInput`. */
  previousDiscussion: string;
  /** `blocks` plus the welcome blocks (new discussion) and this turn's user blocks: store it for the client. */
  blocksAfterUser: string[];
  /** The conditioning as sent, placeholders filled. */
  conditioning: string;
  /** The discussion part of `modelInput`, after cropping. */
  discussion: string;
  /** Whether the discussion was cut from the left. */
  cropped: boolean;
  /** Tokens of `modelInput`: the conditioning and each block counted apart (an estimate when the counter's is). */
  promptTokens: number;
  /** Tokens the answer may use: `nPredicts`, less if the context has no room for all of them. */
  maxTokens: number;
}

/** The user message prefix (`ump`). */
export function userMessagePrefix(personality: Pick<PersonalityConfig, 'user_message_prefix'>, config: DiscussionConfig): string {
  return config.use_user_name_in_discussions ? `${config.discussion_prompt_separator}${config.user_name}: ` : personality.user_message_prefix;
}

/**
 * The conditioning with a client's text added: on a line of its own after the personality's conditioning, and
 * ending with a newline, so the discussion still starts on a new line.
 */
export function withConditioning(conditioning: string, addition: string | undefined): string {
  if (addition === undefined || addition === '') return conditioning;
  const before = conditioning === '' || conditioning.endsWith('\n') ? '' : '\n';
  return `${conditioning}${before}${addition}${addition.endsWith('\n') ? '' : '\n'}`;
}

/** The blocks a new discussion starts with: `[aip, welcome, lt]`, or none (see the module comment). */
export function welcomeBlocks(personality: Pick<PromptPersonality, 'ai_message_prefix' | 'link_text' | 'include_welcome_message_in_disucssion' | 'welcomeMessage'>, now?: Date): string[] {
  if (!personality.include_welcome_message_in_disucssion) return [];
  const welcome = personality.welcomeMessage(now);
  return welcome === '' ? [] : [personality.ai_message_prefix, welcome, personality.link_text];
}

/** Assemble the model input of one personality-mode turn. Throws `ContextOverflow` when nothing fits. */
export async function assemblePrompt(options: AssemblePromptOptions): Promise<AssembledPrompt> {
  const { personality, prompt, config, ctxSize, nPredicts, now } = options;
  const processed = options.processedPrompt ?? prompt;
  const counter = options.counter ?? (options.tokenizer && tokenCounterFor(options.tokenizer));
  if (!counter) throw new TypeError('assemblePrompt needs a counter or a tokenizer');

  const blocksAfterUser = [...options.blocks];
  if (blocksAfterUser.length === 0) blocksAfterUser.push(...welcomeBlocks(personality, now));
  if (prompt !== '') {
    const ump = userMessagePrefix(personality, config);
    if (options.customWorkflow) blocksAfterUser.push(ump, processed);
    else blocksAfterUser.push(ump, processed, personality.link_text, personality.ai_message_prefix);
  }

  const conditioning = withConditioning(personality.conditioning(now), options.conditioningAddition);
  // Past the context size only that it does not fit matters (a long system_prompt setting is counted from its end).
  const conditioningTokens = await counter.count(conditioning, { atMost: ctxSize });
  const room = ctxSize - conditioningTokens;
  if (room < 2) {
    throw ContextOverflow(`the personality's conditioning (${conditioningTokens >= ctxSize ? 'at least ' : ''}${conditioningTokens} tokens) does not fit the context size (${ctxSize} tokens)`);
  }
  const minDiscussion = Math.min(room - 1, Math.max(0, options.minDiscussionTokens ?? Math.ceil(room / 4)));
  const reserve = Math.max(1, Math.min(nPredicts, room - minDiscussion));
  const budget = room - reserve;

  // Whole blocks from the newest back while they fit; the block that does not is cut to the room left. Only
  // that block is re-made from tokens, so the rest reaches the model byte for byte.
  const counts = await (options.countBlocks ?? ((blocks) => Promise.all(blocks.map((b) => counter.count(b, { atMost: ctxSize })))))(blocksAfterUser);
  let first = blocksAfterUser.length;
  let discussionTokens = 0;
  while (first > 0 && discussionTokens + counts[first - 1]! <= budget) discussionTokens += counts[--first]!;
  let discussion = blocksAfterUser.slice(first).join('');
  const cropped = first > 0;
  if (cropped) {
    const cut = await counter.tail(blocksAfterUser[first - 1]!, budget - discussionTokens);
    discussion = cut.text + discussion;
    discussionTokens += cut.tokens;
  }
  const promptTokens = conditioningTokens + discussionTokens;
  const modelInput = conditioning + discussion;
  return {
    modelInput,
    previousDiscussion: modelInput,
    blocksAfterUser,
    conditioning,
    discussion,
    cropped,
    promptTokens,
    maxTokens: Math.max(1, Math.min(nPredicts, ctxSize - promptTokens)),
  };
}

export interface RecordAnswerOptions {
  personality: Pick<PersonalityConfig, 'ai_message_prefix' | 'link_text'>;
  /** The turn was a custom workflow: its blocks end after the user text, so the link text and AI prefix come first. */
  customWorkflow?: boolean;
}

/**
 * The blocks after an answer: the answer (trimmed, as the original's `answer.strip()`) follows its AI prefix
 * and is followed by the link text. Pass `blocksAfterUser` of the same turn.
 */
export function recordAnswer(blocks: readonly string[], answer: string, options: RecordAnswerOptions): string[] {
  const { personality } = options;
  const lead = options.customWorkflow ? [personality.link_text, personality.ai_message_prefix] : [];
  return [...blocks, ...lead, answer.trim(), personality.link_text];
}
