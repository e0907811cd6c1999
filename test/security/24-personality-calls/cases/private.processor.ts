// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// A personality that accepts no calls (callable_by: false): it would hand out the secret it was given.
export default { async runWorkflow(input, ctx) {
  return 'private answer';
} };
