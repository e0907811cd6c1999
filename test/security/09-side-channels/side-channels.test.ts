import { expect } from 'chai';
import { SecurityBench, report } from '../helpers.js';

/** Class 9: SharedArrayBuffer, Atomics, WebAssembly, WeakRef and FinalizationRegistry are unreachable, however asked for. */
describe('security 09: side channels', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  it('none of them is reachable: globals, Reflect, constructor chains, enumeration', async () => {
    const result = await bench.attack('side-channels');
    const out = report<Record<string, string>>(result);
    for (const n of ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'WeakRef', 'FinalizationRegistry']) {
      expect(out[`${n} typeof`], n).to.equal('undefined');
      expect(out[`${n} Reflect.get`], n).to.equal('undefined');
      expect(out[`${n} in`], n).to.equal('false');
      expect(out[`${n} own`], n).to.equal('false');
    }
    expect(out).to.include({
      'SAB via resizable growable buffer': 'ArrayBuffer',
      'SAB via Atomics in Reflect.ownKeys': '',
      'WebAssembly via a function ctor': 'threw EvalError',
      'WeakRef via a ctor chain': 'threw EvalError',
      'SharedArrayBuffer via structured clone': 'undefined',
      'typed array on a shared buffer': 'threw TypeError',
      'Atomics.wait': 'threw TypeError',
      getOwnPropertyNames: '',
      'performance / timers': 'undefined,undefined,undefined,undefined,undefined',
    });
    await bench.expectContained(result);
  });
});
