// @ts-nocheck -- hostile processor of the adversarial suite (test/security): one character over max_tokenize_chars.
export default {
  async runWorkflow(input, ctx) {
    try {
      await ctx.tokenize('1'.repeat(64 * 1024 + 1));
      return 'tokenized';
    } catch (e) {
      return JSON.stringify({ code: e.code, message: e.message });
    }
  },
};
