// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  const thenable = { then(resolve) { resolve(thenable); } };
  return await thenable;
} };
