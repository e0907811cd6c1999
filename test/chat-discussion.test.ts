import { expect } from 'chai';
import { personalityChatDiscussion, splitPersonalityChat } from '../core/generation/chat-discussion.js';
import { withConditioning, type PromptPersonality } from '../core/generation/prompt.js';

const personality: PromptPersonality = {
  user_message_prefix: '!@>User:\n',
  ai_message_prefix: '!@>AI:\n',
  link_text: '\n',
  include_welcome_message_in_disucssion: true,
  conditioning: () => '!@>instructions: be kind.',
  welcomeMessage: () => 'Welcome!',
} as PromptPersonality;
const config = { use_user_name_in_discussions: false, discussion_prompt_separator: '!@>', user_name: 'user' };

describe('a personality driven by chat messages (chat-discussion.ts)', () => {
  it('splits system messages (anywhere), the history and the last user message', () => {
    const split = splitPersonalityChat([
      { role: 'system', content: 'First rule.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello', toolCalls: [{ id: 'c1', name: 'f', arguments: {} }] },
      { role: 'tool', content: '{"ok":true}', toolCallId: 'c1' },
      { role: 'system', content: '' },
      { role: 'user', content: 'And now?' },
      { role: 'system', content: 'Second rule.' },
    ]);
    expect(split).to.deep.equal({
      conditioning: 'First rule.\nSecond rule.',
      history: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: '{"ok":true}' },
      ],
      prompt: 'And now?',
    });
    expect(splitPersonalityChat([{ role: 'user', content: 'x' }])).to.deep.equal({ history: [], prompt: 'x' });
  });

  it('refuses a chat that does not end with a user message', () => {
    for (const messages of [[], [{ role: 'system' as const, content: 'x' }], [{ role: 'user' as const, content: 'x' }, { role: 'assistant' as const, content: 'y' }]]) {
      expect(() => splitPersonalityChat(messages)).to.throw().with.property('code', 'LH_ERR_BAD_REQUEST');
    }
  });

  it('builds the blocks the personality\'s own turns would have recorded, welcome first', () => {
    const discussion = personalityChatDiscussion(
      [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: ' Hello \n' }],
      personality,
      config,
    );
    expect(discussion.blocks).to.deep.equal(['!@>AI:\n', 'Welcome!', '\n', '!@>User:\n', 'Hi', '\n', '!@>AI:\n', 'Hello', '\n']);
    // No history: empty, so that the turn opens it (with the welcome blocks) as a socket discussion's first turn does.
    expect(personalityChatDiscussion([], personality, config).blocks).to.deep.equal([]);
    const named = personalityChatDiscussion([{ role: 'user', content: 'Hi' }], personality, { ...config, use_user_name_in_discussions: true });
    expect(named.blocks.slice(3)).to.deep.equal(['!@>user: ', 'Hi', '\n']);
  });

  it('adds the client\'s system text on a line of its own after the conditioning', () => {
    expect(withConditioning('!@>instructions: be kind.', 'Be brief.')).to.equal('!@>instructions: be kind.\nBe brief.\n');
    expect(withConditioning('cond\n', 'Be brief.\n')).to.equal('cond\nBe brief.\n');
    expect(withConditioning('', 'Be brief.')).to.equal('Be brief.\n');
    expect(withConditioning('cond', undefined)).to.equal('cond');
  });
});
