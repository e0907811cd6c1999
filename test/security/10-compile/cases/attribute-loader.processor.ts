// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import secret from './data.json' with { type: 'text' };
export default { async runWorkflow() { return String(secret); } };
