// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Token ids past the vocabulary made llama.cpp abort the whole host process (std::out_of_range).
export default { async runWorkflow(input, ctx) {
  const seen = [];
  for (const ids of [[99999], [2 ** 31 - 1], [1, 2, 1e6]]) {
    try { await ctx.detokenize(ids); seen.push('decoded'); } catch (e) { seen.push(e.message); }
  }
  return JSON.stringify(seen);
} };
