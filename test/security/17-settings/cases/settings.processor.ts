// @ts-nocheck -- processor of the adversarial suite (test/security): reports the sizes of its settings.
export default {
  settings: {
    system_prompt: { type: 'str', value: 'be nice' },
    tags: { type: 'list', value: ['a'] },
    count: { type: 'int', value: 1, min: 0, max: 100 },
    ratio: { type: 'float', value: 0.5 },
  },
  async runWorkflow(input, ctx) {
    return JSON.stringify({ prompt: ctx.settings.system_prompt.length, tags: ctx.settings.tags.length, count: ctx.settings.count });
  },
};
