// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { attempt, done, report, setSecretPath } from './kit.js';
export default { async runWorkflow(input, ctx) {
  setSecretPath(input.prompt);
  const seen = [];
  Error.stackTraceLimit = Infinity;
  Error.prepareStackTrace = (error, sites) => {
    if (seen.length > 2000) return 'stack';
    for (const site of sites.slice(0, 50)) {
      seen.push({ fn: site.getFunction?.(), self: site.getThis?.(), name: site.getFunctionName?.(), file: site.getFileName?.() });
    }
    return 'stack';
  };
  const provoke = [
    () => ctx.json('t', 1n),
    () => ctx.generate('x', { stop: 'no' }),
    // Overflow the stack, then call ctx at its edge. Each error there captures only its top frames (the bridge
    // is among them): with an unlimited trace each capture walks thousands of frames of f, which costs seconds
    // of CPU under load and proves nothing more.
    () => { Error.stackTraceLimit = 100; let fired = 0; const f = () => { try { f(); } catch (e) { if (fired++ < 20) ctx.step('edge'); throw e; } }; try { f(); } finally { Error.stackTraceLimit = Infinity; } },
    () => { const f = () => { JSON.stringify({ toJSON() { f(); } }); }; f(); },
    () => ctx.stepProgress('x', { valueOf() { throw new Error('inside'); } }),
    () => ctx.json('t', { toJSON() { throw new Error('inside toJSON'); } }),
    () => ctx.step({ toString() { return new Error('from toString').stack; } }),
  ];
  for (const p of provoke) { try { await p(); } catch (e) { void e.stack; } }
  try { await ctx.tokenize({ toString() { throw new Error('tokenize arg'); } }); } catch (e) { void e.stack; }
  Error.captureStackTrace?.({});
  for (const [i, s] of seen.entries()) {
    attempt('site ' + i + ' getFunction', () => s.fn);
    attempt('site ' + i + ' getThis', () => s.self);
    if (typeof s.fn === 'function') attempt('site ' + i + ' fn ctor', () => s.fn.constructor('return process')());
    if (s.file && /lollms-host|\/work\/|node_modules/.test(String(s.file)) && !/bootstrap|personalities/.test(String(s.file))) report.leaks.push('host file in stack: ' + s.file);
  }
  report.notes.sites = String(seen.length);
  report.notes.files = [...new Set(seen.map((s) => String(s.file)))].join(' | ');
  return done();
} };
