// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input) {
  if (input.prompt === 'ok') return 'fine';
  // A 1 GiB answer: 2^29 - 64 two-byte characters, as a rope that costs the isolate almost nothing until copied.
  let s = '\u1234\u5678';
  while (s.length < 2 ** 28) s += s;
  return s + s.slice(0, 2 ** 28 - 64);
} };
