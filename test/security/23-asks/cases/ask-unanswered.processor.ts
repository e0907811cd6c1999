// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// One question nobody answers, not caught.
export default { async runWorkflow(input, ctx) {
  return ctx.ask('Is anybody there?');
} };
