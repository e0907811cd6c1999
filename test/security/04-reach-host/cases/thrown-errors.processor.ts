// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { chains, done, setSecretPath } from './kit.js';
export default { async runWorkflow(input, ctx) {
  setSecretPath(input.prompt);
  const errors = [];
  const catchIt = async (label, fn) => { try { await fn(); } catch (e) { errors.push([label, e]); } };
  await catchIt('json of a BigInt', () => ctx.json('t', 1n));
  await catchIt('bad generate options', () => ctx.generate('x', { stop: 'no' }));
  await catchIt('bad generate option value', () => ctx.generate('x', { temperature: -5 }));
  await catchIt('bad detokenize', () => ctx.detokenize(['x']));
  await catchIt('prompt over the context', () => ctx.generate('word '.repeat(150000), { maxTokens: 4 }));
  await catchIt('stack overflow at the bridge', () => { let fired = 0; const f = () => { try { f(); } catch (e) { if (fired++ < 20) ctx.step('edge'); throw e; } }; f(); });
  await catchIt('frozen settings', () => { ctx.settings.x = 1; });
  for (const [label, e] of errors) {
    chains('error: ' + label, e);
    try { chains('error.stack: ' + label, Object(e.stack)); } catch {}
  }
  return done();
} };
