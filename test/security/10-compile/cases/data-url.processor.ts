// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import x from 'data:text/javascript,export default 1';
export default { async runWorkflow() { return String(x); } };
