// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) { if (input.prompt === 'ok') return 'fine'; await ctx.generate('Hello', { maxTokens: 4 }); for (;;) {} } };
