// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { execSync } from 'child_process';
export default { async runWorkflow() { return String(execSync); } };
