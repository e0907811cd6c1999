// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// An error whose stack is a getter that never returns: describing the error runs under the CPU limit.
export default { async runWorkflow() {
  const error = new Error('getter');
  Object.defineProperty(error, 'stack', { get() { for (;;) {} } });
  throw error;
} };
