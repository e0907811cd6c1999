// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
for (;;) {}
export default { async runWorkflow() { return 'never'; } };
