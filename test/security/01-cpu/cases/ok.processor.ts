// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow() { return 'fine'; } };
