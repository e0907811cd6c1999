// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// A tool handler that awaits a promise nothing can ever settle.
export default { async runWorkflow(input, ctx) {
  return ctx.chat([{ role: 'user', content: 'go' }], {
    tools: [{ name: 'hang', parameters: { type: 'object', properties: {}, additionalProperties: false }, handler: () => new Promise(() => {}) }],
    toolChoice: 'required', maxTokens: 32,
  });
} };
