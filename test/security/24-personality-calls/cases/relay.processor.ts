// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Mounted as sec/relay-1 ... sec/relay-8: each calls the next one down and answers with the chain it saw, or the
// code that stopped it. Without a depth bound the chain would go as deep as there are relays.
export default { async runWorkflow(input, ctx) {
  const me = Number(/relay-(\d+)$/.exec(ctx.personality.folder)[1]);
  try {
    return me + '>' + (await ctx.callPersonality('sec/relay-' + (me + 1), 'down'));
  } catch (e) {
    if (e.name === 'CancelledError') throw e;
    return me + '!' + (e.code ?? e.name);
  }
} };
