// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) {
  if (input.prompt === 'ok') return 'fine';
  // The storm starts when the host settles a ctx call: it runs in the host's 'settle' entry.
  ctx.tokenize('a').then(() => { const storm = () => Promise.resolve().then(storm); storm(); });
  return new Promise(() => {});
} };
