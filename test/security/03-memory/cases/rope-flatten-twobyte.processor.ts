// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  let s = '\u1234\u5678';
  while (s.length < 2 ** 28) s += s;
  return String(s.indexOf('z'));
} };
