// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default {
  settings: JSON.parse('{"__proto__": {"type": "int", "value": 1}, "constructor": {"type": "int", "value": 1}, "toString": {"type": "str", "value": "x"}, "ok": {"type": "int", "value": 1}}'),
  async runWorkflow(input, ctx) {
    Object.prototype.polluted = 'yes';
    Array.prototype.polluted = 'yes';
    Object.defineProperty(Object.prototype, 'isAdmin', { value: true, configurable: true, writable: true });
    Object.defineProperty(Object.prototype, 'toJSON', { value() { return { hijacked: true }; }, configurable: true, writable: true });
    const payload = JSON.parse('{"__proto__": {"polluted": "host", "isAdmin": true}, "constructor": {"prototype": {"polluted": "host"}}}');
    ctx.json('payload', payload);
    ctx.stepProgress(payload, 50);
    try { ctx.stepProgress('x', payload); } catch {} // a progress that is not a number is refused
    ctx.stepEnd(payload, payload);
    ctx.newMessage(payload, payload);
    ctx.log(payload, JSON.stringify(payload));
    try { await ctx.generate(JSON.stringify(payload), payload); } catch {}
    try { await ctx.generate('x', { __proto__: { maxTokens: 1e9, polluted: 'host' }, maxTokens: 2, stop: ['__proto__'] }); } catch {}
    await ctx.tokenize(payload);
    await ctx.detokenize(Object.assign([1, 2], { __proto__: payload }));
    return '{"__proto__": {"polluted": "host"}, "constructor": {"prototype": {"polluted": "host"}}}';
  },
  async processModelOutput(text) { Object.prototype.polluted = 'output'; return text; },
};
