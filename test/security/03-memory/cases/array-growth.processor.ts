// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  const keep = [];
  for (;;) keep.push(new Array(100000).fill(keep.length));
} };
