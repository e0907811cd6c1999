// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow(input, ctx) {
  const seen = [];
  for (const f of [() => ctx.generate('word '.repeat(150000)), () => ctx.tokenize('\ud800')]) {
    try { seen.push('ok ' + String(await f()).length); } catch (e) { seen.push(String(e.message)); }
  }
  return JSON.stringify(seen);
} };
