import { expect } from 'chai';
import { SecurityBench, SECURITY_LIMITS, report } from '../helpers.js';

/** Calls nest at most this deep here (sandbox_max_call_depth). */
const MAX_DEPTH = 3;

/**
 * Class 24: personalities calling personalities (issue 15). A call runs the other personality's turn in its own
 * sandbox, inside the caller's turn: chains are bounded in depth, a cycle is refused at once (it would otherwise
 * wait on a busy sandbox until the wall limit), the called turn spends the caller's budgets, `callable_by` holds
 * for every spelling of a path, and no path leads outside the personality zoo or shows a server path.
 */
describe('security 24: personality calls', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_max_call_depth: MAX_DEPTH });
  before(() => bench.start());
  after(() => bench.stop());

  it(`a chain of calls stops at sandbox_max_call_depth (${MAX_DEPTH}) with LH_ERR_PERSONALITY_CALL_LOOP`, async () => {
    for (let i = 2; i <= 8; i++) await bench.writeCase(`relay-${i}`, { processor: 'relay' });
    const result = await bench.attack('relay-1', 'down', { processor: 'relay' });
    expect(result.error, result.error).to.equal(undefined);
    expect(result.text).to.equal('1>2>3>4!LH_ERR_PERSONALITY_CALL_LOOP');
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('a cycle (ping calls pong calls ping) is refused at once, not after the wall time limit', async () => {
    await bench.writeCase('pong', { processor: 'ping' });
    const result = await bench.attack('ping', 'go');
    expect(result.error, result.error).to.equal(undefined);
    expect(result.text).to.match(/^ping>pong!LH_ERR_PERSONALITY_CALL_LOOP: .*already running in this call chain/);
    // Without the check the second call would wait on ping's busy sandbox and end at the wall time limit instead.
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it("the called turn spends the caller's host calls: 600 + 600 stop at sandbox_max_host_calls (1000)", async () => {
    await bench.writeCase('spender-callee', { processor: 'spender' });
    const result = await bench.attack('spender', 'spend');
    // Running out of host calls ends the whole turn (it is not an error a processor can catch and go on from).
    expect(result.error).to.match(/personality "spender-callee": processor exceeded its limit of 1000 host calls per turn/);
    expect(result.text).to.equal(undefined);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('callable_by: false holds for every spelling of the path', async () => {
    await bench.writeCase('private', { config: 'callable_by: false\n' });
    const result = await bench.attack('call-private');
    expect(report<Array<[string, string]>>(result)).to.deep.equal([
      ['sec/private', 'LH_ERR_PERSONALITY_CALL_DENIED'],
      // Other spellings are not personality paths at all (language/category/name).
      ['sec//private', 'LH_ERR_PATH_OUTSIDE_ROOT'],
      ['sec/./private', 'LH_ERR_PATH_OUTSIDE_ROOT'],
      ['sec/x/../private', 'LH_ERR_PATH_OUTSIDE_ROOT'],
    ]);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('paths outside the zoo, or to nothing, are coded errors that name no server path', async () => {
    const result = await bench.attack('call-paths');
    const outcomes = report<Array<[string, string]>>(result);
    expect(outcomes.map(([label, outcome]) => [label, outcome.split(':')[0]])).to.deep.equal([
      ['parent folders', 'LH_ERR_PATH_OUTSIDE_ROOT'],
      ['the secret file', 'LH_ERR_PATH_OUTSIDE_ROOT'],
      ['an absolute path', 'LH_ERR_PATH_OUTSIDE_ROOT'],
      ['the data dir', 'LH_ERR_PATH_OUTSIDE_ROOT'],
      ['no such personality', 'LH_ERR_PERSONALITY_NOT_FOUND'],
      ['a NUL byte', 'LH_ERR_PATH_OUTSIDE_ROOT'],
      ['blank', 'TypeError'],
      ['a path of 5000 characters', 'TypeError'],
    ]);
    for (const [label, outcome] of outcomes) {
      expect(outcome, label).to.not.include(bench.zoo);
      expect(outcome, label).to.not.include(bench.host.dataDir);
    }
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });
});
