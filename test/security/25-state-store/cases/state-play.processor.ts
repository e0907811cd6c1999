// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// ctx.state abuse, one kind per turn (the prompt names it). A hook that fails must leave the state as it was.
export default { async runWorkflow(input, ctx) {
  const [what, arg] = input.prompt.split(':');
  const s = ctx.state;
  switch (what) {
    case 'look': return JSON.stringify({ v: s.v, grow: (s.grow ?? []).length, polluted: ({}).polluted ?? null, keys: Object.keys(s).sort() });
    case 'set': s.v = arg; return 'set';
    // 30,000 euro signs: 30 KB of characters, 90 KB of UTF-8. Twice is over a 100 KB limit in bytes, not in characters.
    case 'grow': (s.grow ??= []).push('\u20ac'.repeat(30000)); return 'grew';
    case 'cycle': s.self = s; s.v = 'cycle'; return 'cycle';
    case 'bigint': s.n = 10n; s.v = 'bigint'; return 'bigint';
    case 'tojson': s.toJSON = () => 'not an object'; s.v = 'tojson'; return 'tojson';
    case 'getter': Object.defineProperty(s, 'g', { enumerable: true, get() { throw new Error('boom'); } }); s.v = 'getter'; return 'getter';
    case 'proto':
      Object.prototype.polluted = 'yes';
      s['__proto__'] = { polluted: 'yes', v: 'from proto' };
      s.constructor = { prototype: { polluted: 'yes' } };
      return 'proto';
    default: return 'unknown';
  }
} };
