// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) { let s = 'x'.repeat(1024); while (s.length < 50 * 1024 * 1024) s += s; return String((await ctx.tokenize(s)).length); } };
