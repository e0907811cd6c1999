import { expect } from 'chai';
import { SecurityBench, SECURITY_LIMITS, record, report } from '../helpers.js';
import { barrier, generate, type TestSocket } from '../../helpers/host.js';

/** The turn's budget for waiting for answers in this class. */
const ASK_BUDGET_MS = 1_000;

/**
 * Class 23: questions to the user (issue 15). A question waits with the wall clock stopped, so the waiting itself
 * is bounded: one budget per turn for all its questions (`sandbox_ask_timeout_ms`). Questions are bounded in
 * size, answers are checked (the id, the choices, the size), only the asking client can answer, and a cancel or
 * a disconnect ends the wait at once.
 */
describe('security 23: questions to the user', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_ask_timeout_ms: ASK_BUDGET_MS });
  before(() => bench.start());
  after(() => bench.stop());

  it('asking forever, catching every timeout: the waiting stops at the turn budget, then every ask fails at once', async () => {
    const result = await bench.attack('ask-forever');
    const asked = result.events.filter(([e]) => e === 'generation_ask').length;
    // Each question waits up to 250 ms of the 1000 ms budget: at most 5 reach the client (fewer on a slow
    // machine), the other 195+ fail at once without being sent. Without the budget all 200 would be sent.
    expect(asked).to.be.within(1, 5);
    expect(report<Record<string, number>>(result)).to.deep.equal({ LH_ERR_ASK_TIMEOUT: 200 });
    await bench.expectContained(result, ASK_BUDGET_MS + SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('a question nobody answers ends the generation with LH_ERR_ASK_TIMEOUT within the budget', async () => {
    const result = await bench.attack('ask-unanswered');
    expect(result.error).to.match(/did not answer within 1000 ms/);
    await bench.expectContained(result, ASK_BUDGET_MS);
  });

  it('questions out of bounds are refused in the sandbox and never reach the client', async () => {
    const result = await bench.attack('ask-abuse');
    expect(Object.fromEntries(report<Array<[string, string]>>(result))).to.deep.equal({
      'question of 20000 characters': 'TypeError',
      'blank question': 'TypeError',
      '33 choices': 'RangeError',
      'a choice of 2000 characters': 'TypeError',
      'empty choices': 'TypeError',
      'timeout Infinity': 'RangeError',
      'timeout as a string': 'TypeError',
      'timeout NaN': 'RangeError',
      'choices that are not strings': 'TypeError',
    });
    expect(result.events.filter(([e]) => e === 'generation_ask')).to.deep.equal([]);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

});

/** The waiting budget where answers do arrive: far above what a turn here needs, far below the test's timeout. */
const LONG_BUDGET_MS = 20_000;

/** The next `n` `generation_answer` replies on `socket` (socket.io keeps their order), after `send` runs. */
function replies(socket: TestSocket, n: number, send: () => void): Promise<Array<{ success: boolean; error?: string; request_id?: string }>> {
  return new Promise((resolve) => {
    const got: Array<{ success: boolean; error?: string; request_id?: string }> = [];
    const listener = (reply: (typeof got)[number]) => {
      got.push(reply);
      if (got.length < n) return;
      socket.off('generation_answer', listener);
      resolve(got);
    };
    socket.on('generation_answer', listener);
    send();
  });
}

describe('security 23: answers to questions', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_ask_timeout_ms: LONG_BUDGET_MS });
  before(() => bench.start());
  after(() => bench.stop());

  it('answers are checked: made-up ids, huge answers and huge ids are refused, the echo is cut, another client cannot answer', async () => {
    const id = await bench.add('ask-then-work');
    const events = record(bench.attacker);
    const asked = new Promise<{ request_id: string }>((resolve) => bench.attacker.once('generation_ask', resolve));
    bench.attacker.emit('generate_text', { prompt: 'x', personality: id, n_predicts: 4 });
    const question = await asked;
    const guesses = await replies(bench.attacker, 500, () => {
      for (let i = 0; i < 500; i++) bench.attacker.emit('generation_answer', { request_id: `ask_guess_${i}`, answer: 'yes' });
    });
    expect(guesses.filter((r) => r.success !== false)).to.deep.equal([]);
    const [huge] = await replies(bench.attacker, 1, () => bench.attacker.emit('generation_answer', { request_id: question.request_id, answer: 'y'.repeat(1024 * 1024 + 1) }));
    expect(huge!.success).to.equal(false);
    expect(huge!.error).to.match(/invalid payload .*answer/);
    const [outside] = await replies(bench.attacker, 1, () => bench.attacker.emit('generation_answer', { request_id: question.request_id, answer: 'maybe' }));
    expect(outside!.error).to.match(/one of the choices/);
    const [longId] = await replies(bench.attacker, 1, () => bench.attacker.emit('generation_answer', { request_id: 'i'.repeat(4000), answer: 'yes' }));
    expect(longId!.success).to.equal(false);
    expect(longId!.request_id!.length).to.be.at.most(257);
    const [stolen] = await replies(bench.bystander, 1, () => bench.bystander.emit('generation_answer', { request_id: question.request_id, answer: 'yes' }));
    expect(stolen!.success).to.equal(false);
    // The question still waits after all of that: the real answer resumes the workflow.
    const done = new Promise<{ text: string }>((resolve) => bench.attacker.once('text_generated', resolve));
    const [accepted] = await replies(bench.attacker, 1, () => bench.attacker.emit('generation_answer', { request_id: question.request_id, answer: 'no' }));
    expect(accepted).to.deep.equal({ success: true, request_id: question.request_id });
    expect((await done).text).to.match(/^answered no /);
    events.stop();
    await bench.expectContained({ ms: 0, events: events.events });
  });

  it('a disconnect while a question waits frees the personality at once for the next client', async () => {
    const id = await bench.add('ask-then-work');
    const leaving = await bench.host.connect();
    const asked = new Promise<void>((resolve) => leaving.once('generation_ask', () => resolve()));
    leaving.emit('generate_text', { prompt: 'x', personality: id, n_predicts: 4 });
    await asked;
    leaving.close();
    // The next client's turn on the same personality (one call at a time per sandbox) gets its own question,
    // long before the abandoned one would have timed out.
    const started = performance.now();
    const next = bench.bystander;
    next.once('generation_ask', (q: { request_id: string }) => next.emit('generation_answer', { request_id: q.request_id, answer: 'yes' }));
    const result = await generate(next, { prompt: 'x', personality: id, n_predicts: 4 });
    expect(result.error, result.error).to.equal(undefined);
    expect(result.text).to.match(/^answered yes /);
    expect(performance.now() - started, 'the next turn waited for the abandoned question').to.be.below(LONG_BUDGET_MS);
    await barrier(next);
    await bench.expectHealthy();
  });
});
