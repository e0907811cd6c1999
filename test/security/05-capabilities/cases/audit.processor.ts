// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
const IVM = ['getSync', 'applySync', 'applySyncPromise', 'derefInto', 'copyInto', 'copySync', 'setSync', 'deref', 'release', 'evalClosure', 'compileScript', 'createContext'];
export default { async runWorkflow(input, ctx) {
  const seen = new Set(); const found = []; const typeNames = new Set();
  const walk = (v, path, depth) => {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 8) return;
    seen.add(v);
    try { typeNames.add(Object.prototype.toString.call(v)); } catch {}
    let keys = []; try { keys = Reflect.ownKeys(v); } catch { return; }
    for (const k of keys) {
      if (IVM.includes(String(k))) found.push(path + '.' + String(k));
      let d; try { d = Object.getOwnPropertyDescriptor(v, k); } catch { continue; }
      if (!d) continue;
      if ('value' in d) walk(d.value, path + '.' + String(k), depth + 1);
      else { try { walk(d.get?.call(v), path + '.' + String(k) + '()', depth + 1); } catch {} }
    }
    try { walk(Object.getPrototypeOf(v), path + '.__proto__', depth + 1); } catch {}
  };
  walk(globalThis, 'globalThis', 0);
  walk(ctx, 'ctx', 0);
  walk(input, 'input', 0);
  // Function return values of every ctx helper.
  const results = { tokenize: ctx.tokenize('a'), detokenize: ctx.detokenize([1, 2]), generate: ctx.generate('Hi', { maxTokens: 2 }) };
  for (const [k, p] of Object.entries(results)) { walk(p, k + '()', 0); try { walk(Object(await p), k + '() value', 0); } catch (e) { walk(e, k + '() error', 0); } }
  for (const k of Object.keys(ctx)) { if (typeof ctx[k] !== 'function' || ['generate', 'tokenize', 'detokenize'].includes(k)) continue; let r; try { r = ctx[k]('x', 1); } catch (e) { r = e; } walk(r, k + '()', 0); }
  const callerProbe = [];
  for (const k of Object.keys(ctx)) { if (typeof ctx[k] === 'function') { try { callerProbe.push(typeof ctx[k].caller); } catch { callerProbe.push('threw'); } try { callerProbe.push(typeof ctx[k].arguments); } catch { callerProbe.push('threw'); } } }
  return JSON.stringify({ found, walked: seen.size, globals: Object.getOwnPropertyNames(globalThis).sort(), typeNames: [...typeNames].sort(), callerProbe: [...new Set(callerProbe)] });
} };
