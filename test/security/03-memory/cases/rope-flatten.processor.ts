// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  let s = 'ab';
  while (s.length < 2 ** 28) s += s;
  return String(s.indexOf('z'));
} };
