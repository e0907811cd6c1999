// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// A tool handler that never returns: an endless loop inside the sandbox.
export default { async runWorkflow(input, ctx) {
  return ctx.chat([{ role: 'user', content: 'go' }], {
    tools: [{ name: 'spin', parameters: { type: 'object', properties: {}, additionalProperties: false }, handler: () => { for (;;) {} } }],
    toolChoice: 'required', maxTokens: 32,
  });
} };
