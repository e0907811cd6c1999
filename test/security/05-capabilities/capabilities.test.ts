import { expect } from 'chai';
import { SecurityBench, report } from '../helpers.js';

/** The globals a processor sees: the ECMAScript ones, minus the removed ones, plus `console`. docs/security.md lists them. */
export const DOCUMENTED_GLOBALS = [
  'AggregateError', 'Array', 'ArrayBuffer', 'AsyncDisposableStack', 'BigInt', 'BigInt64Array', 'BigUint64Array', 'Boolean',
  'DataView', 'Date', 'DisposableStack', 'Error', 'EvalError', 'Float16Array', 'Float32Array', 'Float64Array', 'Function',
  'Infinity', 'Int16Array', 'Int32Array', 'Int8Array', 'Intl', 'Iterator', 'JSON', 'Map', 'Math', 'NaN', 'Number', 'Object',
  'Promise', 'Proxy', 'RangeError', 'ReferenceError', 'Reflect', 'RegExp', 'Set', 'String', 'SuppressedError', 'Symbol',
  'SyntaxError', 'TypeError', 'URIError', 'Uint16Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray', 'WeakMap',
  'WeakSet', 'console', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'globalThis',
  'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'undefined', 'unescape',
].sort();

/**
 * Class 5: capability audit. Walks everything reachable from globalThis, ctx and the input (properties, getters,
 * prototypes) and from what every ctx helper returns: no isolated-vm object or method anywhere, no global
 * beyond the documented list, and ctx functions expose no caller or arguments.
 */
describe('security 05: capability audit', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_cpu_time_ms: 2_000 });
  before(() => bench.start());
  after(() => bench.stop());

  let audit: { found: string[]; walked: number; globals: string[]; typeNames: string[]; callerProbe: string[] };
  before(async () => {
    const result = await bench.attack('audit');
    audit = report(result);
    await bench.expectContained(result);
  });

  it('finds no isolated-vm method (getSync, applySync, derefInto, copyInto, ...) anywhere reachable', () => {
    expect(audit.walked).to.be.greaterThan(500);
    expect(audit.found).to.deep.equal([]);
  });

  it('finds no object of a host type', () => {
    for (const name of audit.typeNames) expect(name).not.to.match(/\[object (Reference|ExternalCopy|Isolate|Context|Callback|process|Buffer|global)\]/);
  });

  it('leaves no globals beyond the documented list', () => {
    expect(audit.globals).to.deep.equal(DOCUMENTED_GLOBALS);
  });

  it('ctx functions expose neither caller nor arguments (strict functions)', () => {
    expect(audit.callerProbe).to.deep.equal(['threw']);
  });
});
