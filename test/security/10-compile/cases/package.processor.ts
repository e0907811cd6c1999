// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import ivm from 'isolated-vm';
export default { async runWorkflow() { return String(ivm); } };
