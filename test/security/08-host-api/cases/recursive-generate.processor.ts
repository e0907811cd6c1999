// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) {
  const again = async (n) => { const text = await ctx.generate('Hello ' + n, { maxTokens: 1 }); return (await again(n + 1)) + text; };
  return again(0);
} };
