// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { attempt, chains, done, report, setSecretPath } from './kit.js';
export default { async runWorkflow(input, ctx) {
  setSecretPath(input.prompt);
  const got = [];
  const push = (entry) => { if (got.length < 200) got.push(entry); };
  const trap = (label) => new Proxy({}, { get(t, k, r) { push([label, 'get', String(k), r]); return Reflect.get(t, k, r); },
    getPrototypeOf(t) { push([label, 'getPrototypeOf']); return Reflect.getPrototypeOf(t); },
    ownKeys(t) { push([label, 'ownKeys']); return Reflect.ownKeys(t); } });
  class Evil extends Array { static get [Symbol.species]() { push(['species', this]); return Evil; } }
  const evilArray = Evil.from([1, 2]);
  const calls = [
    () => ctx.json('proxy', trap('json')),
    () => ctx.json('array', evilArray),
    () => ctx.generate(trap('prompt'), trap('options')),
    () => ctx.generate('x', { stop: evilArray, maxTokens: 1 }),
    () => ctx.detokenize(new Proxy([1, 2], { get(t, k, r) { push(['detok', String(k), r]); return Reflect.get(t, k, r); } })),
    () => ctx.tokenize(trap('text')),
    () => ctx.stepProgress(trap('text'), trap('progress')),
    () => ctx.log(trap('log'), evilArray),
  ];
  for (const c of calls) { try { await c(); } catch (e) { chains('proxy call error', e); } }
  // Promise species and then-hijacks on what ctx returns.
  class EvilPromise extends Promise { static get [Symbol.species]() { push(['promise species', this]); return EvilPromise; } }
  const p = ctx.tokenize('a');
  p.constructor = EvilPromise;
  await p.then((v) => v);
  const origThen = Promise.prototype.then;
  Promise.prototype.then = function (a, b) { push(['then', this, a, b]); return origThen.call(this, a, b); };
  try { await ctx.generate('x', { maxTokens: 1 }); } catch (e) { chains('then error', e); }
  // Every object thenable for one host round trip: the bootstrap's own promises meet it when ctx settles.
  Object.defineProperty(Object.prototype, 'then', { configurable: true, get() { push(['object then', this]); return undefined; } });
  try { await ctx.tokenize('x'); } catch (e) { chains('object then error', e); }
  delete Object.prototype.then;
  Promise.prototype.then = origThen;
  for (const [i, g] of got.entries()) for (const [j, v] of g.entries()) attempt('trap ' + i + '.' + j, () => v);
  report.notes.traps = String(got.length);
  return done();
} };
