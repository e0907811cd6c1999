// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) {
  const big = 'w'.repeat(500000);
  const all = [];
  for (let i = 0; i < 1000; i++) all.push(ctx.generate(big + i, { maxTokens: 1 }));
  return (await Promise.all(all)).join('');
} };
