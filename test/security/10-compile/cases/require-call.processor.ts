// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
const fs = require('fs');
export default { async runWorkflow() { return String(fs); } };
