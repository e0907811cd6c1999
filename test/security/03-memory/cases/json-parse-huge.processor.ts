// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  let s = '1,';
  while (s.length < 2 ** 26) s += s;
  return String(JSON.parse('[' + s + '1]').length);
} };
