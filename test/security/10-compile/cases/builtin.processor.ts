// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import fs from 'node:fs';
export default { async runWorkflow() { return String(fs); } };
