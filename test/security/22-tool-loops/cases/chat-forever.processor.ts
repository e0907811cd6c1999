// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// A workflow that restarts its tool loop forever, catching every error.
export default { async runWorkflow(input, ctx) {
  const tool = { name: 'noop', parameters: { type: 'object', properties: {}, additionalProperties: false }, handler: () => 'ok' };
  for (;;) {
    try { await ctx.chat([{ role: 'user', content: 'x' }], { tools: [tool], toolChoice: 'required', maxToolRounds: 1, maxTokens: 16 }); } catch (e) { if (e.name === 'CancelledError') throw e; }
  }
} };
