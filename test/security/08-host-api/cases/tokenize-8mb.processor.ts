// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// 8 MB, eight times the payload limit, refused before the host copies it. (50 MB took the guest most of its time
// budget to build and serialize, under load more, so which limit it hit first was luck.)
export default { async runWorkflow(input, ctx) { let s = 'x'.repeat(1024); while (s.length < 8 * 1024 * 1024) s += s; return String((await ctx.tokenize(s)).length); } };
