// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { runWorkflow(input, ctx) { return ctx.tokenize('a').then(() => { for (;;) {} }); } };
