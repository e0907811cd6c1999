// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  const down = (n) => down(n + 1) + 1;
  return String(down(0));
} };
