// @ts-nocheck -- hostile processor of the adversarial suite (test/security): makes the host work for it.
// Within the caps: ctx.generate prompts of (almost) the payload limit, made of digits (the tokenizer's worst
// case), and ctx.tokenize texts of max_tokenize_chars digits, in a loop. Returns what each call answered.
export default {
  async runWorkflow(input, ctx) {
    const rounds = Number(input.prompt);
    const digits = (n) => '1234567890'.repeat(Math.ceil(n / 10)).slice(0, n);
    const prompt = digits(1024 * 1024 - 4096);
    const text = digits(64 * 1024);
    const seen = { generate: [], tokenize: [] };
    for (let i = 0; i < rounds; i++) {
      try {
        await ctx.generate(prompt, { maxTokens: 1 });
        seen.generate.push('generated');
      } catch (e) {
        seen.generate.push(e.code ?? e.name);
      }
      try {
        seen.tokenize.push((await ctx.tokenize(text)).length);
      } catch (e) {
        seen.tokenize.push(e.code ?? e.name);
      }
    }
    return JSON.stringify(seen);
  },
};
