// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// The caller (sec/spender) makes 600 host calls, then calls sec/spender-callee, which tries 600 more. Each half is
// under sandbox_max_host_calls (1000); together they are over, and a call counts against its caller's budget.
export default { async runWorkflow(input, ctx) {
  let done = 0;
  try {
    for (let i = 0; i < 600; i++) { await ctx.tokenize('a'); done++; }
  } catch (e) {
    if (ctx.personality.folder.endsWith('callee')) return 'callee stopped after ' + done + ': ' + e.message;
    throw e;
  }
  if (ctx.personality.folder.endsWith('callee')) return 'callee made all ' + done;
  return await ctx.callPersonality('sec/spender-callee', 'spend');
} };
