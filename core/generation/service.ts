/**
 * The generation service: the one path of every generation, for every transport. A transport hands it a
 * `GenerationRequest` and a `GenerationSink`; the service takes a slot (the busy rule and the queue), leases
 * the model (and the personality), runs the mode (raw or a personality's turn, with its processor hooks),
 * streams into the sink and answers with a `GenerationOutcome` or a coded error. Cancel, disconnect, a closed
 * HTTP request and shutdown all come in as the request's AbortSignal or `cancel(clientId)`, and end the same
 * way: the slot is freed at once, the sink goes quiet, the engine stops within one token, and the outcome says
 * `cancelled`.
 */
import { ChatRequestError, checkChatRequest, type ChatMessage, type ChatResult, type GenerateResult } from '../../plugin-api/index.js';
import type { ActiveModel } from '../bindings/manager.js';
import { BadRequest, Cancelled, HostClosed, errorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Lease } from '../util/versioned.js';
import type { HeldPersonality } from '../personalities/manager.js';
import { chatRound, type ChatModel } from './chat.js';
import { personalityChatDiscussion, splitPersonalityChat, type PersonalityChat } from './chat-discussion.js';
import { runChatTurn } from './chat-turn.js';
import { runPersonalityTurn, type PersonalityTurnSource } from './personality-turn.js';
import { runRaw } from './raw.js';
import { RecentGenerations, type RecentGeneration } from './recent.js';
import type { GenerationScheduler, Slot } from './scheduler.js';
import { tokenCounterFor } from './token-count.js';
import type { GenerationSettings, Turn, TurnChatOptions, TurnRequest, TurnResult } from './turn.js';
import type { GenerationObserver, GenerationOutcome, GenerationRequest, GenerationSink, GenerationTimings, PersonalityRef, WorkflowMessage } from './types.js';

/** The model the service generates with (the binding manager). */
export interface ModelSource {
  /** A lease on the loaded model; throws `LH_ERR_NO_MODEL` without one. */
  requireModel(): Lease<ActiveModel>;
  /**
   * Settles once the model can serve: a hot reload of the active binding has swapped (new work waits for the new
   * code), a load in progress has ended, a model unloaded by `keep_alive` has been loaded again. Rejects with
   * `signal`'s reason when it aborts first.
   */
  whenReady(signal?: AbortSignal): Promise<void>;
  /** Keep the model loaded for the whole request (`keep_alive` never unloads it meanwhile); returns the release. */
  holdResident(): () => void;
}

/** The personalities the service runs turns of (the personality manager). */
export interface PersonalitySource extends PersonalityTurnSource {
  /** Lease a mounted personality for one turn (a path is mounted first when it is not); coded errors otherwise. */
  acquireTurn(ref: PersonalityRef): Promise<HeldPersonality>;
}

/** The model input of a turn, for diagnostics and tests (`Host.events` 'prompt'). */
export interface PromptEvent {
  client: string;
  /** The mounted id, -1 in raw mode. */
  personality: number;
  prompt: string;
}

export interface GenerationServiceOptions {
  scheduler: GenerationScheduler;
  models: ModelSource;
  personalities: PersonalitySource;
  /** The config values a generation reads, at each request. */
  settings: () => GenerationSettings;
  logger: Logger;
  /** Called with each turn's model input. */
  onPrompt?: (event: PromptEvent) => void;
  /** Generations remembered for `status()`. Default 20. */
  recentLimit?: number;
  /** Told of every generation that ends (metrics). */
  observer?: GenerationObserver;
}

/** What `GET /status` shows of generation. */
export interface GenerationStatus {
  slots: { total: number; busy: number };
  queue: { depth: number };
  recent: RecentGeneration[];
}

/** A generation from its request to its end. */
interface Active {
  readonly clientId: string;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/** Token counts of a request's model calls, summed. */
interface UsageCounter {
  promptTokens: number;
  completionTokens: number;
  /** Summed over the calls whose binding reported it; undefined while none did. */
  cachedTokens: number | undefined;
  evalNs: number;
}

/** How long `close()` waits for cancelled generations to end before the host disposes what they use. */
const CLOSE_WAIT_MS = 3_000;

export class GenerationService {
  readonly #options: GenerationServiceOptions;
  readonly #active = new Set<Active>();
  readonly #recent: RecentGenerations;
  readonly #idle = new Map<string, Array<() => void>>();
  #closed = false;

  constructor(options: GenerationServiceOptions) {
    this.#options = options;
    this.#recent = new RecentGenerations(options.recentLimit ?? 20);
  }

  /**
   * Run one generation. The slot is decided synchronously, before this returns: a request refused by the busy
   * rule or a full queue rejects with `LH_ERR_BUSY` / `LH_ERR_QUEUE_FULL` and took nothing. Once `request.signal`
   * aborts (or `cancel` is called for the client), the promise resolves with `finishReason: 'cancelled'` and
   * the sink is not called again; it never rejects after that.
   */
  run(request: GenerationRequest, sink: GenerationSink): Promise<GenerationOutcome> {
    if (this.#closed) return Promise.reject(HostClosed('the host is shutting down; no new generation starts'));
    let chat: PersonalityChat | undefined;
    try {
      // A malformed request is refused before it takes a slot or a place in the queue.
      chat = checkRequest(request);
    } catch (error) {
      return Promise.reject(error);
    }
    const clock: Clock = { started: performance.now(), firstText: undefined };
    const controller = new AbortController();
    const signal = AbortSignal.any([request.signal, controller.signal]);
    const gated = gate(sink, signal, () => (clock.firstText ??= performance.now()));
    let acquired: Slot | Promise<Slot>;
    try {
      acquired = this.#options.scheduler.acquire({
        client: request.client,
        policy: request.queue,
        ...(request.maxPerClient !== undefined ? { maxPerClient: request.maxPerClient } : {}),
        signal,
        ...(sink.queued ? { onPosition: (position: number) => gated.queued?.(position) } : {}),
      });
    } catch (error) {
      return Promise.reject(error);
    }
    let finish!: () => void;
    const active: Active = { clientId: request.client.id, controller, done: new Promise<void>((r) => (finish = r)) };
    this.#active.add(active);
    return this.#execute(request, gated, signal, acquired, clock, chat).finally(() => {
      this.#active.delete(active);
      finish();
      this.#wakeIdle(request.client.id);
    });
  }

  async #execute(
    request: GenerationRequest,
    sink: GenerationSink,
    signal: AbortSignal,
    acquired: Slot | Promise<Slot>,
    clock: Clock,
    chat: PersonalityChat | undefined,
  ): Promise<GenerationOutcome> {
    const { started } = clock;
    let slot: Slot | undefined;
    // A cancel frees the slot at once, so a new request can start while this one unwinds.
    const releaseOnAbort = () => slot?.release();
    signal.addEventListener('abort', releaseOnAbort, { once: true });
    const usage: UsageCounter = { promptTokens: 0, completionTokens: 0, cachedTokens: undefined, evalNs: 0 };
    let queuedMs = 0;
    let personalityPath: string | undefined;
    let leaveModel: (() => void) | undefined;
    const timings = (): GenerationTimings => {
      const tokensPerSecond = usage.evalNs > 0 ? usage.completionTokens / (usage.evalNs / 1e9) : undefined;
      return {
        queuedMs,
        totalMs: performance.now() - started,
        ...(tokensPerSecond !== undefined ? { tokensPerSecond } : {}),
        ...(clock.firstText !== undefined ? { firstTextMs: clock.firstText - started } : {}),
      };
    };
    const outcomeOf = (result: TurnResult): GenerationOutcome => ({
      text: result.text,
      ...(result.toolCalls && !signal.aborted ? { toolCalls: result.toolCalls } : {}),
      finishReason: signal.aborted ? 'cancelled' : result.finishReason,
      usage: {
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
        ...(usage.cachedTokens !== undefined ? { cachedTokens: usage.cachedTokens } : {}),
      },
      timings: timings(),
    });
    const remember = (outcome: GenerationOutcome | undefined, error?: unknown) => {
      const ended = outcome ? (outcome.finishReason === 'cancelled' ? 'cancelled' : 'done') : 'error';
      this.#recent.add({
        mode: request.kind,
        ...(personalityPath !== undefined ? { personality: personalityPath } : {}),
        client: request.client,
        usage,
        ...(outcome?.timings.tokensPerSecond !== undefined ? { tokensPerSecond: outcome.timings.tokensPerSecond } : {}),
        outcome: ended,
        ...(error !== undefined ? { error } : {}),
      });
      const code = errorCode(error);
      try {
        this.#options.observer?.ended?.({
          mode: request.kind,
          ...(personalityPath !== undefined ? { personality: personalityPath } : {}),
          transport: request.client.transport,
          outcome: ended,
          ...(code !== undefined ? { errorCode: code } : {}),
          usage: { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens },
          timings: outcome?.timings ?? timings(),
        });
      } catch {
        // Metrics must never fail a generation.
      }
    };
    try {
      try {
        slot = acquired instanceof Promise ? await acquired : acquired;
      } finally {
        queuedMs = performance.now() - started;
      }
      if (signal.aborted) {
        slot.release();
        const outcome = outcomeOf({ text: '', finishReason: 'cancelled' });
        remember(outcome);
        return outcome;
      }
      // The whole request counts as use of the model: keep_alive never unloads it between its model calls.
      leaveModel = this.#options.models.holdResident();
      // A hot reload of the active binding, a load in progress, a model keep_alive unloaded: wait rather than refuse.
      await this.#options.models.whenReady(signal);
      const result = await this.#runMode(request, sink, signal, usage, chat, (path) => (personalityPath = path));
      const outcome = outcomeOf(result);
      remember(outcome);
      return outcome;
    } catch (error) {
      if (!signal.aborted) {
        remember(undefined, error);
        throw error;
      }
      const outcome = outcomeOf({ text: '', finishReason: 'cancelled' });
      remember(outcome);
      return outcome;
    } finally {
      signal.removeEventListener('abort', releaseOnAbort);
      slot?.release();
      leaveModel?.();
    }
  }

  async #runMode(
    request: GenerationRequest,
    sink: GenerationSink,
    signal: AbortSignal,
    usage: UsageCounter,
    chat: PersonalityChat | undefined,
    onPersonality: (path: string) => void,
  ): Promise<TurnResult> {
    const { models, personalities, logger, onPrompt } = this.#options;
    const settings = this.#options.settings();
    const withModel = async (turnRequest: TurnRequest, personality: number | undefined, run: (turn: Turn) => Promise<TurnResult>): Promise<TurnResult> => {
      const lease = models.requireModel();
      try {
        const model = lease.value;
        // The client's id is the binding's cache session: one client's cached prompt never speeds up another's
        // (issue 11 §5), and a client's own next turn reuses its prefix.
        const counted = countedModel(model, request.client.id, signal, usage);
        const turn: Turn = {
          request: turnRequest,
          sink,
          signal,
          model,
          counter: tokenCounterFor(model.model),
          settings,
          logger: logger.child({ client: request.client.id, ...(personality !== undefined ? { personalityId: personality } : {}) }),
          generate: (prompt, options) => counted.generate(prompt, options),
          chat: (messages, options) => chatCounted(counted, messages, options),
          prompted: (prompt, id) => onPrompt?.({ client: request.client.id, personality: id, prompt }),
        };
        return await run(turn);
      } finally {
        lease.release();
      }
    };
    if (request.kind === 'raw') return withModel({ ...request, prompt: request.prompt ?? '' }, undefined, runRaw);
    if (request.kind === 'chat') return withModel({ ...request, prompt: '' }, undefined, runChatTurn);
    const personalityTurn = async () => {
      const held = await personalities.acquireTurn(request.personality!);
      onPersonality(held.mounted.path);
      try {
        // A chat's messages make this request's discussion, with this personality's prefixes.
        const turnRequest: TurnRequest = chat
          ? {
              ...request,
              prompt: chat.prompt,
              discussion: personalityChatDiscussion(chat.history, held.lease.value.config, settings),
              ...(chat.conditioning !== undefined ? { conditioning: chat.conditioning } : {}),
            }
          : { ...request, prompt: request.prompt ?? '' };
        return await withModel(turnRequest, held.id, (turn) => runPersonalityTurn(turn, held, personalities));
      } finally {
        held.lease.release();
      }
    };
    // The turns of one discussion run in order: a new one starts once a cancelled one has recorded its answer.
    return request.discussion ? request.discussion.turn(personalityTurn) : personalityTurn();
  }

  /** Cancel every generation of a client, queued or running. Returns whether there was one. */
  cancel(clientId: string): boolean {
    let any = false;
    for (const active of this.#active) {
      if (active.clientId !== clientId || active.controller.signal.aborted) continue;
      active.controller.abort(Cancelled('Generation is canceled.'));
      any = true;
    }
    return any;
  }

  /** Settles once a client has no generation left, cancelled ones included (their sandbox calls ended). */
  whenIdle(clientId: string): Promise<void> {
    if (![...this.#active].some((a) => a.clientId === clientId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = this.#idle.get(clientId) ?? [];
      waiting.push(resolve);
      this.#idle.set(clientId, waiting);
    });
  }

  #wakeIdle(clientId: string): void {
    if ([...this.#active].some((a) => a.clientId === clientId)) return;
    const waiting = this.#idle.get(clientId);
    this.#idle.delete(clientId);
    for (const wake of waiting ?? []) wake();
  }

  /** Slots, queue and the last generations, for `GET /status`. */
  status(): GenerationStatus {
    return { ...this.#options.scheduler.snapshot(), recent: this.#recent.list() };
  }

  /**
   * Stop for shutdown: from now on `run` rejects with `LH_ERR_CLOSED`; every generation is cancelled, and this
   * resolves once they have ended (or after a few seconds, so a stuck one cannot hold the shutdown).
   */
  async close(): Promise<void> {
    this.#closed = true;
    const ending = [...this.#active];
    for (const active of ending) if (!active.controller.signal.aborted) active.controller.abort(Cancelled('the host is shutting down'));
    if (ending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(ending.map((a) => a.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}

/**
 * Check a request before it takes a slot: what each kind needs, and a chat's structure. Returns a personality
 * chat's split messages.
 * @throws `LH_ERR_BAD_REQUEST`, or a schema/format code for a format or tool schema out of bounds
 */
function checkRequest(request: GenerationRequest): PersonalityChat | undefined {
  switch (request.kind) {
    case 'raw':
      if (typeof request.prompt !== 'string') throw BadRequest('a raw generation needs a prompt');
      return undefined;
    case 'personality': {
      if (!request.personality) throw BadRequest('a personality generation needs a personality');
      if (request.format) throw BadRequest('a personality answers as its workflow writes: an output format cannot be imposed on it');
      const choice = request.toolChoice;
      if (request.tools?.length && choice !== undefined && choice !== 'auto' && choice !== 'none') {
        throw BadRequest('a personality never calls tools: toolChoice "required" or a named tool cannot be honoured');
      }
      if (request.messages) return splitPersonalityChat(request.messages);
      if (typeof request.prompt !== 'string') throw BadRequest('a personality generation needs a prompt or messages');
      return undefined;
    }
    case 'chat':
      try {
        checkChatRequest(request.messages ?? [], {
          ...(request.tools ? { tools: request.tools } : {}),
          ...(request.toolChoice ? { toolChoice: request.toolChoice } : {}),
          ...(request.format ? { format: request.format } : {}),
        });
      } catch (error) {
        if (error instanceof ChatRequestError) throw BadRequest(error.message, { cause: error });
        throw error;
      }
      return undefined;
    default:
      throw BadRequest(`unknown generation kind ${JSON.stringify(String((request as { kind: unknown }).kind)).slice(0, 40)}`);
  }
}

/** What a model call adds to a request's usage. */
function count(usage: UsageCounter, timings: GenerateResult['timings']): void {
  usage.promptTokens += timings.prompt_eval_count;
  usage.completionTokens += timings.eval_count;
  usage.evalNs += timings.eval_duration;
  if (timings.prompt_cached_count !== undefined) usage.cachedTokens = (usage.cachedTokens ?? 0) + timings.prompt_cached_count;
}

/**
 * The loaded model as a generation uses it: every call carries the client's cache session and the generation's
 * signal (narrowed by a caller's own), and its tokens are added to `usage`.
 */
function countedModel(model: ActiveModel, session: string, signal: AbortSignal, usage: UsageCounter): Required<Pick<ChatModel, 'generate'>> & ChatModel {
  const loaded = model.model;
  const narrowed = (own: AbortSignal | undefined) => (own ? AbortSignal.any([signal, own]) : signal);
  const counted: Required<Pick<ChatModel, 'generate'>> & ChatModel = {
    async generate(prompt, options = {}) {
      const result = await loaded.generate(prompt, { session, ...options, signal: narrowed(options.signal) });
      count(usage, result.timings);
      return result;
    },
  };
  if (loaded.chat) {
    counted.chat = async (messages, options = {}) => {
      const result = await loaded.chat!(messages, { session, ...options, signal: narrowed(options.signal) });
      count(usage, result.timings);
      return result;
    };
  }
  return counted;
}

/** One chat round on the counted model; `onModelResult` sees the binding's answer (chat, or generate for the fallback) before validation. */
function chatCounted(model: ChatModel, messages: readonly ChatMessage[], options: TurnChatOptions) {
  const { onModelResult, ...chatOptions } = options;
  if (!onModelResult) return chatRound(model, messages, chatOptions);
  const seen = <R extends ChatResult>(result: R): R => {
    onModelResult(result);
    return result;
  };
  const watched: ChatModel = { generate: async (prompt, o) => seen(await model.generate(prompt, o)) };
  if (model.chat) watched.chat = async (m, o) => seen(await model.chat!(m, o));
  return chatRound(watched, messages, chatOptions);
}

/** When a request started and when its first text reached the sink (performance.now()). */
interface Clock {
  readonly started: number;
  firstText: number | undefined;
}

/**
 * The sink behind the cancel gate: nothing passes once `signal` aborted, and a throwing sink loses only its
 * piece. `onText` hears of every text piece that passes (the first one times the first token).
 */
function gate(sink: GenerationSink, signal: AbortSignal, onText: () => void = () => {}): GenerationSink {
  const guard = <A extends unknown[]>(fn: ((...args: A) => void) | undefined) =>
    fn &&
    ((...args: A) => {
      if (signal.aborted) return;
      try {
        fn.apply(sink, args);
      } catch {
        // The transport's problem (a closed connection); the generation goes on.
      }
    });
  const answer = guard(sink.answer)!;
  const draft = guard(sink.draft)!;
  const gated: GenerationSink = {
    answer: (text) => {
      if (!signal.aborted) onText();
      answer(text);
    },
    draft: (text) => {
      if (!signal.aborted) onText();
      draft(text);
    },
    message: guard<[WorkflowMessage]>(sink.message)!,
  };
  const queued = guard(sink.queued);
  if (queued) gated.queued = queued;
  if (sink.ask) gated.ask = (request, askSignal) => sink.ask!(request, AbortSignal.any([signal, askSignal]));
  return gated;
}
