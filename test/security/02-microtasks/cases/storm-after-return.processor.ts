// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  const storm = () => Promise.resolve().then(storm);
  storm();
  return 'returned before the storm ends';
} };
