/**
 * A personality driven by chat messages (the OpenAI API's personality models): the messages carry the whole
 * history, so each request builds the discussion the personality would have had, and nothing is kept between
 * requests.
 *
 * - System messages (wherever they are) are added to the personality's conditioning, joined by newlines.
 * - The last user message is the prompt; only system messages may follow it.
 * - The user and assistant messages before it become the discussion's blocks, with the personality's prefixes,
 *   exactly as its own earlier turns would have recorded them: a discussion opens with the welcome blocks (when
 *   the personality includes its welcome message), each user message is `[ump, text, lt]`, each answer
 *   `[aip, text.trim(), lt]`. Joined, that is the text a socket client's discussion holds after the same turns
 *   (`[ump, text, lt, aip]` + `[answer, lt]`); the user texts are as sent (an earlier turn's `processModelInput`
 *   is not run again).
 * - A tool result (`role: 'tool'`) is a user message with its content; an assistant's tool calls are dropped
 *   (a personality never calls tools; a client that switched models mid-chat still gets an answer).
 */
import type { ChatMessage } from '../../plugin-api/index.js';
import { BadRequest } from '../errors.js';
import { Discussion } from './discussion.js';
import { userMessagePrefix, welcomeBlocks, type DiscussionConfig, type PromptPersonality } from './prompt.js';

/** One earlier turn of a personality chat. */
export interface PersonalityChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/** A personality request's messages, split. */
export interface PersonalityChat {
  /** The client's system messages, joined by newlines; absent without any (or when all are empty). */
  conditioning?: string;
  /** The turns before the prompt, oldest first. */
  history: PersonalityChatTurn[];
  /** The last user message. */
  prompt: string;
}

/**
 * Split a personality chat into conditioning, history and prompt (see the module comment). Pure and linear;
 * run it before a slot is taken, so a malformed chat is refused at once.
 * @throws `LH_ERR_BAD_REQUEST` when no user message ends the chat
 */
export function splitPersonalityChat(messages: readonly ChatMessage[]): PersonalityChat {
  if (!Array.isArray(messages) || messages.length === 0) throw BadRequest('a chat needs at least one message');
  let last = messages.length - 1;
  while (last >= 0 && messages[last]!.role === 'system') last--;
  if (last < 0 || messages[last]!.role !== 'user') {
    throw BadRequest('a personality answers a user message: the last message (system messages aside) must have role "user"');
  }
  const system: string[] = [];
  const history: PersonalityChatTurn[] = [];
  messages.forEach((message, index) => {
    if (typeof message.content !== 'string') throw BadRequest(`message ${index}: content must be a string`);
    if (message.role === 'system') {
      if (message.content !== '') system.push(message.content);
    } else if (index < last) {
      history.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content: message.content });
    }
  });
  return { ...(system.length > 0 ? { conditioning: system.join('\n') } : {}), history, prompt: messages[last]!.content };
}

/**
 * The discussion of a personality chat's history, for one request: empty without history (the turn then opens
 * it with the welcome blocks itself), else the welcome blocks and one run of blocks per message.
 */
export function personalityChatDiscussion(history: readonly PersonalityChatTurn[], personality: PromptPersonality, config: DiscussionConfig, now?: Date): Discussion {
  if (history.length === 0) return new Discussion();
  const ump = userMessagePrefix(personality, config);
  const blocks = welcomeBlocks(personality, now);
  for (const turn of history) {
    if (turn.role === 'user') blocks.push(ump, turn.content, personality.link_text);
    else blocks.push(personality.ai_message_prefix, turn.content.trim(), personality.link_text);
  }
  return new Discussion(blocks);
}
