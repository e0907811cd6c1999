// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  let s = 'ab';
  const keep = [];
  for (;;) { s = s + s; keep.push(s.slice(1)); keep[keep.length - 1].indexOf('z'); }
} };
