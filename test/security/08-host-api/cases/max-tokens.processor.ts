// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) {
  const out = [];
  try { out.push((await ctx.generate('Hello', { maxTokens: 1e9 })).length >= 0 ? 'generated' : '?'); } catch (e) { out.push('error ' + e.code + ' ' + e.message); }
  try { await ctx.generate('Hello', { maxTokens: 2 ** 60 }); out.push('huge accepted'); } catch (e) { out.push('refused ' + e.name); }
  return JSON.stringify(out);
} };
