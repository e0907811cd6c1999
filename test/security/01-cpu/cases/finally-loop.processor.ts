// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow() { try { throw new Error('x'); } finally { for (;;) {} } } };
