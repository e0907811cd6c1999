// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Asks, then (if it ever gets an answer) generates. Used to disconnect a client while its question waits.
export default { async runWorkflow(input, ctx) {
  const answer = await ctx.ask('Go on?', { choices: ['yes', 'no'] });
  return 'answered ' + answer + ' ' + (await ctx.generate('x', { maxTokens: 2 })).length;
} };
