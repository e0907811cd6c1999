// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Asks again and again, catching every timeout: with the wall clock stopped while a question waits, only the
// turn's budget for waiting (sandbox_ask_timeout_ms, all questions together) can end it.
export default { async runWorkflow(input, ctx) {
  const codes = {};
  for (let i = 0; i < 200; i++) {
    try { await ctx.ask('still there? ' + i, { timeoutMs: 250 }); } catch (e) { if (e.name === 'CancelledError') throw e; codes[e.code] = (codes[e.code] ?? 0) + 1; }
  }
  return JSON.stringify(codes);
} };
