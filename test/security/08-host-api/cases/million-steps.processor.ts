// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) { for (let i = 0; i < 1e6; i++) ctx.step('s' + i); return 'done'; } };
