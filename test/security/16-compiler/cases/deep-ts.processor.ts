// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// deep.ts: a single expression of hundreds of thousands of nested parentheses.
import value from './deep.ts';
export default { async runWorkflow() { return String(value); } };
