// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// 120 000 token ids of 16 digits serialize to 2 MB, twice the 1 MB payload limit: refused before the host copies
// them. The list is long only in bytes: millions of ids cost the guest its whole time budget just to build and
// copy, under load more, so which limit it hit first was luck.
export default { async runWorkflow(input, ctx) { const ids = new Array(120000).fill(9007199254740991); return await ctx.detokenize(ids); } };
