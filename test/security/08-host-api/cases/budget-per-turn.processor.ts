// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default {
  async processModelInput(text, ctx) { for (let i = 0; i < 400; i++) ctx.step('in'); return text; },
  async runWorkflow(input, ctx) { for (let i = 0; i < 400; i++) ctx.step('wf'); return 'wf'; },
  async processModelOutput(text, ctx) { for (let i = 0; i < 400; i++) ctx.step('out'); return text; },
};
