// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) { const ids = new Array(4000000).fill(1); return await ctx.detokenize(ids); } };
