// @ts-nocheck -- processor of the adversarial suite (test/security).
export default { async runWorkflow() { return 'still compiling'; } };
