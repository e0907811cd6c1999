// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// A tool whose handler starts a new tool loop that calls it again: loops inside loops, without end.
export default { async runWorkflow(input, ctx) {
  const tool = { name: 'again', parameters: { type: 'object', properties: {}, additionalProperties: false }, handler: () => again() };
  const again = () => ctx.chat([{ role: 'user', content: 'again' }], { tools: [tool], toolChoice: 'required', maxTokens: 32 });
  return again();
} };
