// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
export default { async runWorkflow() {
  const names = ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'WeakRef', 'FinalizationRegistry'];
  const out = {};
  for (const n of names) {
    out[n + ' typeof'] = typeof globalThis[n];
    out[n + ' Reflect.get'] = typeof Reflect.get(globalThis, n);
    out[n + ' in'] = String(n in globalThis);
    out[n + ' own'] = String(Reflect.ownKeys(globalThis).includes(n));
  }
  const tries = {
    'SAB via resizable growable buffer': () => new ArrayBuffer(8, { maxByteLength: 16 }).constructor === ArrayBuffer ? 'ArrayBuffer' : 'other',
    'SAB via Atomics in Reflect.ownKeys': () => Reflect.ownKeys(globalThis).filter((k) => /Shared|Atomics|Wasm|WebAssembly|WeakRef|Finalization/.test(String(k))).join(','),
    'WebAssembly via a function ctor': () => Function('return WebAssembly')(),
    'WeakRef via a ctor chain': () => (async () => {}).constructor('return WeakRef')(),
    'SharedArrayBuffer via structured clone': () => typeof structuredClone,
    'typed array on a shared buffer': () => new Int32Array(new globalThis.SharedArrayBuffer(8)),
    'Atomics.wait': () => globalThis.Atomics.wait(new Int32Array(4), 0, 0, 10),
    'getOwnPropertyNames': () => Object.getOwnPropertyNames(globalThis).filter((k) => /Shared|Atomics|WebAssembly|WeakRef|Finalization/.test(k)).join(','),
    'performance / timers': () => [typeof performance, typeof setTimeout, typeof setInterval, typeof queueMicrotask, typeof SharedWorker].join(','),
  };
  for (const [k, f] of Object.entries(tries)) { try { out[k] = String(f()); } catch (e) { out[k] = 'threw ' + e.name; } }
  return JSON.stringify(out);
} };
