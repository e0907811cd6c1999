// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// 100 calls at once, each with a 500 KB prompt: from the 17th on they are refused. (A thousand cost the guest its
// whole time budget just to serialize the prompts, under load more, so which limit it hit first was luck.)
export default { async runWorkflow(input, ctx) {
  const big = 'w'.repeat(500000);
  const all = [];
  for (let i = 0; i < 100; i++) all.push(ctx.generate(big + i, { maxTokens: 1 }));
  return (await Promise.all(all)).join('');
} };
