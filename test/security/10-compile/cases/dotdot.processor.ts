// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import secret from '../../SECRET.txt';
export default { async runWorkflow() { return String(secret); } };
