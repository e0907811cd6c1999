import { expect } from 'chai';
import { Versioned } from '../core/util/versioned.js';

describe('Versioned: swap while in use, drain, dispose', () => {
  it('disposes a swapped-out version as retired once its last lease ends, and the rest at disposeAll as not retired', async () => {
    const disposed: Array<[string, boolean]> = [];
    const versions = new Versioned<string>((value, retired) => {
      disposed.push([value, retired]);
    });
    versions.swap('v1');
    const lease = versions.acquire()!;
    versions.swap('v2');
    // v1 still serves its lease: nothing is disposed, new work gets v2.
    expect(disposed).to.deep.equal([]);
    expect(versions.acquire()!.value).to.equal('v2');
    lease.release();
    await versions.settled();
    expect(disposed).to.deep.equal([['v1', true]]);
    versions.swap('v3');
    const held = versions.acquire()!;
    versions.swap('v4');
    await versions.disposeAll();
    // v2 (its lease above is never released) and v3 (held) are retired but leased, v4 is current: shutdown ends them all now.
    expect(disposed.slice(1).sort()).to.deep.equal([['v2', false], ['v3', false], ['v4', false]]);
    // A lease released after the shutdown disposes nothing twice.
    held.release();
    await versions.settled();
    expect(disposed).to.have.length(4);
  });
});
