// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) {
  try { await ctx.generate('word '.repeat(150000), { maxTokens: 4 }); return 'generated'; } catch (e) { return JSON.stringify({ name: e.name, code: e.code, message: e.message }); }
} };
