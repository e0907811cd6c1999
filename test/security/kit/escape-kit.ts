// @ts-nocheck -- guest code of the adversarial suite: copied next to each case as scripts/kit.ts.
/**
 * The attacker's toolbox. `attempt(label, fn)` runs one escape attempt and records whether what it got looks
 * like a host capability; when it does, it also tries to read the secret file (its path is the prompt) and
 * puts what it read in the report, so that a working escape shows up on the wire.
 */
const IVM_METHODS = ['getSync', 'applySync', 'applySyncPromise', 'derefInto', 'copyInto', 'copySync', 'setSync', 'deref', 'release'];

export const report = { tried: 0, leaks: [] as string[], loot: [] as string[], notes: {} as Record<string, string> };

/** Whether `v` is something a sandboxed script must never hold. */
export function hostish(v: unknown): string | undefined {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return undefined;
  try {
    if (typeof v.versions === 'object' && v.versions && typeof v.versions.node === 'string') return 'process';
    if (typeof v.mainModule === 'object' || typeof v.binding === 'function' || typeof v.dlopen === 'function') return 'process';
    if (typeof v.readFileSync === 'function') return 'fs';
    if (typeof v === 'function' && typeof v.resolve === 'function' && typeof v.cache === 'object') return 'require';
    for (const m of IVM_METHODS.slice(0, 6)) if (typeof v[m] === 'function') return `ivm:${m}`;
    if (typeof v.process === 'object' && v.process !== null) return 'host global';
    if (typeof v.require === 'function') return 'require holder';
  } catch {
    // a throwing getter is not a capability
  }
  return undefined;
}

/** Try to turn a capability into the secret's content. */
function loot(v: unknown, secretPath: string): void {
  const tries = [
    () => v.mainModule.require('fs').readFileSync(secretPath, 'utf8'),
    () => v.require('fs').readFileSync(secretPath, 'utf8'),
    () => v('fs').readFileSync(secretPath, 'utf8'),
    () => v.readFileSync(secretPath, 'utf8'),
    () => v.process.mainModule.require('fs').readFileSync(secretPath, 'utf8'),
    () => v.getSync('process').getSync('mainModule').getSync('require').applySync(undefined, ['fs']),
  ];
  for (const t of tries) {
    try {
      const got = t();
      if (got !== undefined) report.loot.push(String(got));
    } catch {
      // next
    }
  }
}

let secretPath = '';
export function setSecretPath(path: string): void {
  secretPath = path;
}

/** Run one attempt: `fn` returns whatever it reached (or throws). */
export function attempt(label: string, fn: () => unknown): void {
  report.tried++;
  let got: unknown;
  try {
    got = fn();
  } catch (e) {
    report.notes[label] = 'threw ' + (e && e.name);
    return;
  }
  const kind = hostish(got);
  report.notes[label] = kind ? 'GOT ' + kind : typeof got;
  if (kind) {
    report.leaks.push(label + ': ' + kind);
    loot(got, secretPath);
  }
}

export async function attemptAsync(label: string, fn: () => Promise<unknown>): Promise<void> {
  report.tried++;
  try {
    const got = await fn();
    const kind = hostish(got);
    report.notes[label] = kind ? 'GOT ' + kind : typeof got;
    if (kind) {
      report.leaks.push(label + ': ' + kind);
      loot(got, secretPath);
    }
  } catch (e) {
    report.notes[label] = 'threw ' + (e && e.name);
  }
}

/** Every way to get code running from a "Function constructor" candidate. */
export function viaConstructor(label: string, F: unknown): void {
  attempt(label + ' ("return process")', () => F('return process')());
  attempt(label + ' ("return this")', () => F('return this')());
  attempt(label + ' (new, "return globalThis")', () => new F('return globalThis')());
  attempt(label + ' (require)', () => F('return require')());
}

/** Constructor chains from a value: v.constructor.constructor and through its prototype chain. */
export function chains(label: string, v: unknown): void {
  attempt(label + ' itself', () => v);
  viaConstructor(label + '.constructor.constructor', (() => { try { return v.constructor.constructor; } catch { return undefined; } })());
  let proto: unknown;
  try { proto = Object.getPrototypeOf(v); } catch { proto = undefined; }
  for (let depth = 0; proto && depth < 6; depth++) {
    const p = proto;
    viaConstructor(`${label} proto[${depth}].constructor`, (() => { try { return p.constructor; } catch { return undefined; } })());
    try { proto = Object.getPrototypeOf(p); } catch { proto = undefined; }
  }
}

export function done(): string {
  return JSON.stringify(report);
}
