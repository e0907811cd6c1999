// @ts-nocheck -- hostile processor of the adversarial suite (test/security).
let calls = 0;
export default {
  settings: { mine: { type: 'int', value: 1 } },
  async runWorkflow(input, ctx) {
    calls++;
    const found = [];
    const seen = new Set();
    const look = (v, depth) => {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 6) return;
      seen.add(v);
      for (const k of Reflect.ownKeys(v)) {
        let d; try { d = Object.getOwnPropertyDescriptor(v, k); } catch { continue; }
        const text = String(k) + ' ' + (d && 'value' in d && typeof d.value !== 'object' && typeof d.value !== 'function' ? String(d.value) : '');
        if (/VICTIM|api_token|TENANT-B/.test(text)) found.push(text);
        if (d && 'value' in d) look(d.value, depth + 1);
        if (d && typeof d.value === 'function') { try { if (/VICTIM/.test(Function.prototype.toString.call(d.value))) found.push('code:' + String(k)); } catch {} }
      }
      try { look(Object.getPrototypeOf(v), depth + 1); } catch {}
    };
    look(globalThis, 0); look(ctx, 0);
    try { found.push(...Object.keys(ctx.settings).filter((k) => k !== 'mine')); } catch {}
    return JSON.stringify({ calls, found, previous: input.previousDiscussion });
  },
};
