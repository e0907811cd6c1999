/**
 * `ctx.callPersonality(path, prompt)` (issue 15): another personality's turn, in that personality's own sandbox,
 * inside the caller's turn. It runs on the caller's model lease, slot and signal, from the caller's counters
 * (host calls, message bytes) and on its wall clock, so a call costs the caller what it costs; its text,
 * drafts and messages are its caller's to use, not the client's (a question it asks still reaches the user).
 *
 * Calls nest at most `sandbox_max_call_depth` deep, and a personality already in the chain cannot be called
 * again (its sandbox serves one call at a time: a cycle would wait on itself until the wall time limit).
 */
import { PersonalityCallDenied, PersonalityCallLoop } from '../errors.js';
import type { HeldPersonality, MountedPersonality } from '../personalities/manager.js';
import type { PersonalityVersion } from '../personalities/version.js';
import { nestedSandboxBudget, type BudgetCounts, type SandboxBudget } from '../sandbox/index.js';
import type { Turn, TurnResult } from './turn.js';
import type { GenerationSink, PersonalityRef } from './types.js';

/** What a personality call needs of the personalities. */
export interface PersonalityCallSource {
  /** Lease a personality for one turn (a path is mounted first when it is not). */
  acquireTurn(ref: PersonalityRef): Promise<HeldPersonality>;
  /** Whether `callee` accepts calls from the personality in `callerFolder` (its `callable_by`). */
  mayCall(callee: PersonalityVersion, callerFolder: string | undefined): Promise<boolean>;
}

/** A turn started by a personality call: the budget it continues, and the chain of callers above it. */
export interface NestedTurn {
  budget: SandboxBudget;
  /** The folders (or paths) of the personalities in the call chain, outermost first, this turn's last. */
  chain: readonly string[];
}

export interface PersonalityCallContext<S extends PersonalityCallSource> {
  /** The caller's turn. */
  turn: Turn;
  caller: MountedPersonality;
  /** The chain down to the caller (the caller last). */
  chain: readonly string[];
  /** The caller's budget (its wall clock is shared). */
  budget: SandboxBudget;
  source: S;
  /** `sandbox_max_call_depth`. */
  maxDepth: number;
}

/** Runs a personality's turn (`runPersonalityTurn`, handed in so that this module does not import it). */
export type RunNestedTurn<S> = (turn: Turn, held: HeldPersonality, source: S, nested: NestedTurn) => Promise<TurnResult>;

/**
 * Run `path`'s turn on `prompt` for the caller and return its answer. `counts` are the caller's counters when it
 * called; they are left as the called turn ended them.
 * @throws `LH_ERR_PERSONALITY_CALL_LOOP` (too deep, or a cycle), `LH_ERR_PERSONALITY_CALL_DENIED` (`callable_by`),
 *   the personality codes of `acquireTurn`, and whatever the called turn fails with
 */
export async function callPersonality<S extends PersonalityCallSource>(
  context: PersonalityCallContext<S>,
  run: RunNestedTurn<S>,
  path: string,
  prompt: string,
  counts: BudgetCounts,
  signal: AbortSignal,
): Promise<string> {
  const { turn, chain, maxDepth } = context;
  if (chain.length > maxDepth) {
    throw PersonalityCallLoop(`ctx.callPersonality: personality calls nest at most ${maxDepth} deep (sandbox_max_call_depth)`);
  }
  const held = await context.source.acquireTurn({ path });
  try {
    const key = held.mounted.folder ?? held.mounted.path;
    if (chain.includes(key)) throw PersonalityCallLoop(`ctx.callPersonality: "${path}" is already running in this call chain; a personality cannot call itself, directly or through others`);
    if (!(await context.source.mayCall(held.lease.value, context.caller.folder))) {
      throw PersonalityCallDenied(`ctx.callPersonality: personality "${path}" does not accept calls from "${context.caller.path}" (its callable_by)`);
    }
    const budget = nestedSandboxBudget(context.budget, counts);
    const nestedSignal = AbortSignal.any([turn.signal, signal]);
    const narrow = (own: AbortSignal | undefined) => (own ? AbortSignal.any([own, nestedSignal]) : nestedSignal);
    const nested: Turn = {
      ...turn,
      request: { client: turn.request.client, kind: 'personality', personality: { path }, prompt, queue: turn.request.queue, signal: nestedSignal },
      sink: callerOnlySink(turn.sink),
      signal: nestedSignal,
      logger: turn.logger.child({ calledBy: context.caller.path }),
      generate: (p, options) => turn.generate(p, { ...options, signal: narrow(options.signal) }),
      chat: (messages, options) => turn.chat(messages, { ...options, signal: narrow(options.signal) }),
      prompted: () => {},
    };
    const result = await run(nested, held, context.source, { budget, chain: [...chain, key] });
    counts.hostCalls = budget.hostCalls;
    counts.emitBytes = budget.emitBytes;
    return result.text;
  } finally {
    held.lease.release();
  }
}

/** A called personality's output is its caller's to use: nothing reaches the client but its questions. */
function callerOnlySink(sink: GenerationSink): GenerationSink {
  const quiet: GenerationSink = { answer: () => {}, draft: () => {}, message: () => {} };
  if (sink.ask) quiet.ask = (request, signal) => sink.ask!(request, signal);
  return quiet;
}
