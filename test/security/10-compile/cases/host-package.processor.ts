// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { startHost } from 'lollms-host';
export default { async runWorkflow() { return String(startHost); } };
