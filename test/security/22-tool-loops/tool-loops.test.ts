import { expect } from 'chai';
import { tokenCounterFor } from '../../../core/generation/token-count.js';
import { chatRound } from '../../../core/generation/chat.js';
import { processorHost } from '../../../core/generation/processor-host.js';
import type { Turn } from '../../../core/generation/turn.js';
import type { WorkflowMessage } from '../../../core/generation/types.js';
import { createSandboxBudget, type SandboxHostApi } from '../../../core/sandbox/index.js';
import type { ChatMessage, ToolCall } from '../../../plugin-api/index.js';
import { createLogger } from '../../../core/logger.js';
import { SecurityBench, SECURITY_LIMITS } from '../helpers.js';

/**
 * Class 22: tool loops (issue 15). The loop runs in the sandbox, one host operation per model round; a handler
 * that never returns, spins, or starts loops inside loops, and a workflow that restarts its loop forever, all end
 * with a coded error within the limits. The host counts the rounds of a loop too, and only the host makes the
 * steps that say a tool was called.
 */
describe('security 22: tool loops', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_max_tool_rounds: 3 });
  before(() => bench.start());
  after(() => bench.stop());

  const cases: Array<[string, string, RegExp, number]> = [
    ['handler-never-returns', 'a handler that awaits a promise that never settles', /never finished runWorkflow.*can never settle/, SECURITY_LIMITS.sandbox_wall_time_ms],
    ['handler-spins', 'a handler in an endless loop', /CPU time limit/, SECURITY_LIMITS.sandbox_cpu_time_ms],
    ['handler-recursion', 'handlers that start tool loops inside tool loops', /host calls per turn|wall time limit|memory limit|CPU time limit/, SECURITY_LIMITS.sandbox_wall_time_ms],
    ['chat-forever', 'a workflow that restarts its tool loop forever', /host calls per turn|wall time limit|CPU time limit/, SECURITY_LIMITS.sandbox_wall_time_ms],
  ];
  for (const [name, what, expected, limit] of cases) {
    it(`${what} → ${expected.source}`, async () => {
      const result = await bench.attack(name);
      expect(result.error, result.error ?? result.text).to.match(expected);
      if (limit === SECURITY_LIMITS.sandbox_cpu_time_ms) {
        // A CPU limit is checked as CPU (the process's or the charged figure), not on a loaded machine's clock.
        bench.expectStoppedByCpu(result, name);
        await bench.expectContained(result);
      } else {
        await bench.expectContained(result, limit);
      }
    });
  }

  it('only the host marks a step as a tool call: forged step ends and made-up call ids show as plain messages', async () => {
    const result = await bench.attack('forged-tool-steps');
    expect(result.error, result.error).to.equal(undefined);
    const messages = result.events.filter(([e]) => e === 'generation_message').map(([, m]) => m as { type: number; metadata: Record<string, unknown> });
    expect(messages.map((m) => m.type)).to.deep.equal([8, 10, 11]);
    for (const m of messages.slice(0, 2)) expect(Object.keys(m.metadata).filter((k) => k.startsWith('tool') || k === 'result')).to.deep.equal([]);
    expect(messages[1]!.metadata).to.deep.equal({ status: true });
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('the host counts the rounds of a loop itself: a chat that keeps answering its calls stops at sandbox_max_tool_rounds', async () => {
    const active = bench.host.host.bindings.model!;
    const sink = { answer: () => {}, draft: () => {}, message: (m: WorkflowMessage) => void steps.push(m) };
    const steps: WorkflowMessage[] = [];
    const signal = new AbortController().signal;
    const turn: Turn = {
      request: { client: { id: 'tool-rounds', transport: 'http' }, kind: 'personality', prompt: 'x', queue: 'wait', signal },
      sink,
      signal,
      model: active,
      counter: tokenCounterFor(active.model),
      settings: bench.host.host.config.values,
      logger: createLogger({ level: 'silent' }),
      generate: (prompt, options) => active.model.generate(prompt, { session: 'tool-rounds', ...options }),
      chat: (messages, options) => chatRound(active.model, messages, { session: 'tool-rounds', ...options }),
      prompted: () => {},
    };
    const host: SandboxHostApi = processorHost({
      turn,
      sampling: { maxTokens: 64, temperature: 0.5, topK: 40, topP: 0.9, repeatPenalty: 1.1, repeatLastN: 64, seed: 3, stop: [] },
      personality: 'sec/host-rounds',
      budget: createSandboxBudget(),
      limits: { maxToolRounds: 3, askTimeoutMs: 1000 },
      store: async () => null,
      callPersonality: async () => '',
    });
    const tools = [{ name: 'noop', parameters: { type: 'object', properties: {}, additionalProperties: false } }];
    // What a sandbox that ignored its own round limit would send: each round answers the calls of the last.
    const messages: ChatMessage[] = [{ role: 'user', content: 'x' }];
    const rounds: string[] = [];
    for (let round = 1; round <= 5; round++) {
      try {
        const reply = await host.chat!(messages, { tools, toolChoice: 'required', maxTokens: 64 }, signal);
        const calls = reply.toolCalls as ToolCall[];
        rounds.push(`round ${round}: ${calls.length} call(s)`);
        messages.push({ role: 'assistant', content: reply.text, toolCalls: calls }, ...calls.map((c) => ({ role: 'tool' as const, toolCallId: c.id, content: 'ok' })));
      } catch (error) {
        rounds.push(`round ${round}: ${(error as { code?: string }).code}`);
        break;
      }
    }
    expect(rounds.slice(0, 3).every((r) => /\d call/.test(r))).to.equal(true);
    expect(rounds[3]).to.equal('round 4: LH_ERR_TOOL_ROUNDS');
    expect(steps.filter((m) => m.typeName === 'MSG_TYPE_STEP_START').length).to.be.at.least(3);
  });
});
