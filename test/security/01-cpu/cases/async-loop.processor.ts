// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) { await ctx.tokenize('a'); await null; for (;;) {} } };
