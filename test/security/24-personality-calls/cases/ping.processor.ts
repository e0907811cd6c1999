// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Mounted as sec/ping and sec/pong: each calls the other. The second call closes a cycle; without the cycle check
// it would wait on a sandbox busy with its own caller until the wall time limit.
export default { async runWorkflow(input, ctx) {
  const other = ctx.personality.folder.endsWith('ping') ? 'sec/pong' : 'sec/ping';
  try {
    return ctx.personality.folder.split('/').pop() + '>' + (await ctx.callPersonality(other, 'again'));
  } catch (e) {
    if (e.name === 'CancelledError') throw e;
    return ctx.personality.folder.split('/').pop() + '!' + (e.code ?? e.name) + ': ' + e.message;
  }
} };
