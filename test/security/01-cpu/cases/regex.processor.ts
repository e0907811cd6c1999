// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow() { return String(/^(a+)+$/.test('a'.repeat(64) + 'b')); } };
