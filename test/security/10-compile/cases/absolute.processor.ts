// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import secret from '/etc/hostname.ts';
export default { async runWorkflow() { return String(secret); } };
