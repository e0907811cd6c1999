// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) {
  if (input.prompt === 'ok') return 'fine';
  let s = 'x'.repeat(1024);
  while (s.length < 10 * 1024 * 1024) s += s;
  return ctx.generate(s, { maxTokens: 4 });
} };
