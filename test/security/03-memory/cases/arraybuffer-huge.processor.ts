// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  const big = new ArrayBuffer(2 ** 31);
  new Uint8Array(big).fill(7);
  return String(big.byteLength);
} };
