// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Calls a personality whose callable_by refuses it, through every spelling of its path.
export default { async runWorkflow(input, ctx) {
  const out = [];
  for (const path of ['sec/private', 'sec//private', 'sec/./private', 'sec/x/../private']) {
    try { out.push([path, 'ok: ' + (await ctx.callPersonality(path, 'x'))]); } catch (e) { out.push([path, e.code ?? e.name]); }
  }
  return JSON.stringify(out);
} };
