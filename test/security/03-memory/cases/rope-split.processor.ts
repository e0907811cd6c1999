// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  // In the host process this is a V8 fatal error (the whole process aborts): it must only cost a sandbox process.
  let s = 'ab';
  while (s.length < 2 ** 28) s += s;
  return String(s.split('').length);
} };
