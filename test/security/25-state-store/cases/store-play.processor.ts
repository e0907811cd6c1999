// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
// ctx.store abuse, one kind per turn (the prompt names it).
export default { async runWorkflow(input, ctx) {
  const out = [];
  const tryIt = async (label, fn) => {
    try { const v = await fn(); out.push([label, v === undefined ? 'ok' : JSON.stringify(v)]); } catch (e) { out.push([label, e.code ?? e.name]); }
  };
  const cycle = {}; cycle.self = cycle;
  switch (input.prompt) {
    case 'abuse':
      await tryIt('empty key', () => ctx.store.set('', 1));
      await tryIt('key of 257 characters', () => ctx.store.set('k'.repeat(257), 1));
      await tryIt('key with a newline', () => ctx.store.set('a\nb', 1));
      await tryIt('key not a string', () => ctx.store.get({ toString() { return 'x'; } }));
      await tryIt('a function', () => ctx.store.set('f', () => 1));
      await tryIt('undefined', () => ctx.store.set('u', undefined));
      await tryIt('a bigint', () => ctx.store.set('b', 10n));
      await tryIt('a cycle', () => ctx.store.set('c', cycle));
      await tryIt('600 KB, over the quota', () => ctx.store.set('huge', 'x'.repeat(600 * 1024)));
      await tryIt('a key like a path', () => ctx.store.set('../../../secret.txt', 'overwritten?'));
      await tryIt('read it back', () => ctx.store.get('../../../secret.txt'));
      await tryIt('__proto__', () => ctx.store.set('__proto__', { polluted: 'yes' }));
      await tryIt('__proto__ back', () => ctx.store.get('__proto__'));
      await tryIt('constructor', () => ctx.store.set('constructor', { prototype: { polluted: 'yes' } }));
      await tryIt('keys', () => ctx.store.keys());
      return JSON.stringify(out);
    case 'fill': {
      let n = 0;
      try { for (;;) { await ctx.store.set('fill-' + n, 'x'.repeat(10000)); n++; } } catch (e) { return n + ' ' + e.code; }
    }
    case 'race': {
      // 8 at once (a hook may have at most 16 host calls in flight), 20 times: 160 writes racing in groups.
      const values = [];
      for (let round = 0; round < 20; round++) {
        const ids = Array.from({ length: 8 }, (_, i) => round * 8 + i);
        await Promise.all(ids.map((i) => ctx.store.set('r-' + i, i)));
        values.push(...(await Promise.all(ids.map((i) => ctx.store.get('r-' + i)))));
      }
      return JSON.stringify({ keys: (await ctx.store.keys('r-')).length, sum: values.reduce((a, b) => a + b, 0) });
    }
    case 'keys': return JSON.stringify(await ctx.store.keys());
    case 'set': await ctx.store.set('after', 1); return JSON.stringify(await ctx.store.keys());
    case 'spam': {
      // 2,000 reads: past sandbox_max_host_calls (1,000); ends the turn.
      for (let i = 0; i < 2000; i++) await ctx.store.get('nothing');
      return 'spam finished';
    }
    default: return 'unknown';
  }
} };
