// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  const keep = [];
  for (;;) keep.push(new Uint8Array(new ArrayBuffer(4 * 1024 * 1024)).fill(1));
} };
