// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { attemptAsync, chains, done, setSecretPath } from './kit.js';
export default { async runWorkflow(input, ctx) {
  setSecretPath(input.prompt);
  const pending = ctx.tokenize('abc');
  chains('tokenize promise', pending);
  const tokens = await pending;
  chains('tokens', tokens);
  const text = await ctx.detokenize(tokens);
  chains('detokenize text', Object(text));
  const generated = ctx.generate('Hello', { maxTokens: 2 });
  chains('generate promise', generated);
  chains('generated', Object(await generated));
  for (const helper of ['step', 'info', 'json', 'log', 'stepProgress', 'chunk']) {
    let value;
    try { value = helper === 'json' ? ctx.json('t', { a: 1 }) : ctx[helper]('x', 1); } catch (e) { value = e; }
    chains(helper + ' returns', value);
  }
  await attemptAsync('await tokenize, then read .constructor.constructor', async () => (await ctx.tokenize('x')).constructor.constructor('return process')());
  return done();
} };
