// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow() { let n = 0; const o = { get length() { return n++ === 0 ? 1 : 2 ** 32 - 1; } }; return String(Array.prototype.lastIndexOf.call(o, 1)); } };
