// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Questions the host must refuse before the client sees them.
export default { async runWorkflow(input, ctx) {
  const out = [];
  const tryIt = async (label, fn) => { try { await fn(); out.push([label, 'ok']); } catch (e) { out.push([label, e.code ?? e.name]); } };
  await tryIt('question of 20000 characters', () => ctx.ask('q'.repeat(20000), { timeoutMs: 50 }));
  await tryIt('blank question', () => ctx.ask('   ', { timeoutMs: 50 }));
  await tryIt('33 choices', () => ctx.ask('q', { choices: Array.from({ length: 33 }, (_, i) => 'c' + i), timeoutMs: 50 }));
  await tryIt('a choice of 2000 characters', () => ctx.ask('q', { choices: ['a', 'b'.repeat(2000)], timeoutMs: 50 }));
  await tryIt('empty choices', () => ctx.ask('q', { choices: [], timeoutMs: 50 }));
  await tryIt('timeout Infinity', () => ctx.ask('q', { timeoutMs: Infinity }));
  await tryIt('timeout as a string', () => ctx.ask('q', { timeoutMs: '50' }));
  await tryIt('timeout NaN', () => ctx.ask('q', { timeoutMs: NaN }));
  await tryIt('choices that are not strings', () => ctx.ask('q', { choices: [{ toString() { return 'x'; } }, 2], timeoutMs: 50 }));
  return JSON.stringify(out);
} };
