// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// deep.json: megabytes of nested arrays; parsing it overflowed esbuild's stack and killed its service.
import data from './deep.json';
export default { async runWorkflow() { return String(data.length); } };
