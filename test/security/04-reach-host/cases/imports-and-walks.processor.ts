// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
import { attempt, attemptAsync, done, report, setSecretPath } from './kit.js';
export default { async runWorkflow(input, ctx) {
  setSecretPath(input.prompt);
  const name = ['f', 's'].join('');
  for (const spec of [name, 'node:' + name, 'node:child_process', 'isolated-vm', 'file:///etc/passwd', 'data:text/javascript,export default globalThis']) {
    await attemptAsync('import(' + spec + ')', () => import(spec));
  }
  attempt('require', () => require(name));
  attempt('module', () => module);
  attempt('process', () => process);
  attempt('global', () => global);
  attempt('Buffer', () => Buffer);
  // globalThis walk: every property, descriptor value, getter result and prototype, 5 levels deep.
  const seen = new Set();
  const walk = (v, path, depth) => {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 5) return;
    seen.add(v);
    attempt(path, () => v);
    let keys = [];
    try { keys = Reflect.ownKeys(v); } catch { return; }
    for (const k of keys) {
      let d; try { d = Object.getOwnPropertyDescriptor(v, k); } catch { continue; }
      if (!d) continue;
      if ('value' in d) walk(d.value, path + '.' + String(k), depth + 1);
      else { try { walk(d.get?.call(v), path + '.' + String(k) + '()', depth + 1); } catch {} }
    }
    try { walk(Object.getPrototypeOf(v), path + '.__proto__', depth + 1); } catch {}
  };
  walk(globalThis, 'globalThis', 0);
  report.notes.walked = String(seen.size);
  report.notes.globals = Object.getOwnPropertyNames(globalThis).sort().join(',');
  return done();
} };
