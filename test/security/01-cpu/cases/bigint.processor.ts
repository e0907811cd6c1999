// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow() { return String((3n ** 30000000n).toString().length); } };
