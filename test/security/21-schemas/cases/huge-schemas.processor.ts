// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// Every oversized, over-deep or malformed schema and grammar a processor can hand ctx.generate, ctx.chat and a
// tool: each must be a coded error the processor can catch, refused before the engine sees it where it can be.
const nest = (depth, leaf, wrap) => { let v = leaf; for (let i = 0; i < depth; i++) v = wrap(v); return v; };
export default { async runWorkflow(input, ctx) {
  const out = [];
  const tryIt = async (label, fn) => {
    try { await fn(); out.push([label, 'ok']); } catch (e) { out.push([label, e.code ?? e.name]); }
  };
  const enumOf = (n, size) => Array.from({ length: n }, (_, i) => String(i).padStart(size, 'x'));
  await tryIt('70 KB schema', () => ctx.generate('x', { schema: { enum: enumOf(700, 100) }, maxTokens: 4 }));
  await tryIt('depth 200', () => ctx.generate('x', { schema: nest(200, { type: 'string' }, (v) => ({ type: 'array', items: v })), maxTokens: 4 }));
  await tryIt('depth 5000', () => ctx.generate('x', { schema: nest(5000, { type: 'string' }, (v) => ({ type: 'array', items: v })), maxTokens: 4 }));
  await tryIt('2000 properties', () => ctx.generate('x', { schema: { type: 'object', properties: Object.fromEntries(enumOf(2000, 4).map((k) => [k, { type: 'null' }])) }, maxTokens: 4 }));
  await tryIt('grammar 20000 parentheses', () => ctx.generate('x', { grammar: 'root ::= ' + '('.repeat(20000) + '"a"' + ')'.repeat(20000), maxTokens: 4 }));
  await tryIt('grammar 100 KB', () => ctx.generate('x', { grammar: 'root ::= "' + 'a'.repeat(100000) + '"', maxTokens: 4 }));
  await tryIt('grammar unbalanced', () => ctx.generate('x', { grammar: 'root ::= ("a"', maxTokens: 4 }));
  await tryIt('grammar that does not parse', () => ctx.generate('x', { grammar: 'root ::= @@@ nonsense', maxTokens: 4 }));
  await tryIt('schema not a schema', () => ctx.generate('x', { schema: 42, maxTokens: 4 }));
  await tryIt('lookbehind pattern', () => ctx.generate('x', { schema: { type: 'string', pattern: '(?<=a)b', maxLength: 4 }, maxTokens: 8 }));
  await tryIt('self-referencing $ref', () => ctx.generate('x', { schema: { $defs: { a: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' }, maxTokens: 8 }));
  await tryIt('chat: huge tool parameters', () => ctx.chat([{ role: 'user', content: 'x' }], { tools: [{ name: 't', parameters: { type: 'object', properties: { p: { enum: enumOf(700, 100) } } }, handler: () => 1 }], maxTokens: 4 }));
  await tryIt('chat: 200 tools', () => ctx.chat([{ role: 'user', content: 'x' }], { tools: Array.from({ length: 200 }, (_, i) => ({ name: 't' + i, handler: () => 1 })), maxTokens: 4 }));
  await tryIt('chat: deep schema', () => ctx.chat([{ role: 'user', content: 'x' }], { schema: nest(100, { type: 'null' }, (v) => ({ type: 'object', properties: { a: v } })), maxTokens: 4 }));
  await tryIt('embed: 65 texts', () => ctx.embed(new Array(65).fill('t')));
  return JSON.stringify(out);
} };
