/**
 * One `generate_text` request as seen by an application: an async iterable of text chunks, the final answer,
 * the processor messages, and a cancel. The client feeds it the socket's events; nothing here touches the
 * socket. The contract it follows (chunks, `MSG_TYPE_FULL`, the final text) is docs/protocol.md §3.4.
 */
import type { GenerationAsk, GenerationMessage, SamplingParameters } from '../core/protocol/index.js';
import { BusyError, CanceledError, LollmsRequestError, LollmsTimeoutError } from './errors.js';

/** `MSG_TYPE_FULL`: the message's whole text so far, which replaces what the chunks built (protocol §3.4). */
const MSG_TYPE_FULL = 1;

/** Options of `LollmsClient.generate()`. */
export interface GenerateOptions {
  /** `-1` (the default) generates from the raw prompt; `>= 0` is the id of a mounted personality (personality mode). */
  personality?: number;
  /** The most tokens to generate (`n_predicts`). Default: the host's `n_predict`, or the personality's. */
  nPredicts?: number;
  /** Sampling values for raw mode: any of `temperature`, `top_k`, `top_p`, `repeat_penalty`, `repeat_last_n`, `seed`. */
  parameters?: SamplingParameters;
  /** Raw mode only: keep only the last `nCrop` prompt tokens (`n_crop`); `-1` or `0` keeps all. */
  nCrop?: number;
  /** Aborting it cancels the generation: the client sends `cancel_generation` and `text` rejects with `CanceledError`. */
  signal?: AbortSignal;
  /** Called with every `generation_message` (processor steps, infos, JSON...) of this generation, as it arrives. */
  onMessage?: (message: GenerationMessage) => void;
  /** Called with every text chunk as it arrives (the same chunks the async iterator yields). */
  onChunk?: (chunk: string) => void;
  /**
   * Answers a processor's question (`generation_ask`, from its `ctx.ask`): return the answer (one of
   * `question.choices` when it has some) and the client sends it as `generation_answer`. Without it, or when it
   * throws or returns something other than a string (`undefined`: the application asks its user), nothing is
   * sent: answer later with `Generation.answer()`, or the question times out (`question.timeout_ms`) and the
   * processor decides what follows.
   */
  onAsk?: (question: GenerationAsk) => string | undefined | Promise<string | undefined>;
  /**
   * Called while the request waits for a free slot (a host with `max_queue` > 0 and every slot busy): the number
   * of requests that will be served before it (0 = next), again each time it changes (`generation_queued`).
   */
  onQueued?: (position: number) => void;
  /**
   * Idle limit in milliseconds: when no event of the generation arrives for this long, the client cancels it and
   * `text` rejects with `LollmsTimeoutError`. Default `0`: no limit, because a large prompt on a CPU can take
   * minutes before its first chunk (a queued request's `generation_queued` events count as activity). Use it, or a `signal`
   * such as `AbortSignal.timeout(ms)`, to bound a generation.
   */
  timeoutMs?: number;
}

/** What a run needs from the client. */
export interface GenerationDriver {
  /** Send `generate_text`. */
  start(): void;
  /** Send `cancel_generation`. */
  cancel(): void;
  /** Send `generation_answer`; rejects when the host refuses it. */
  answer(requestId: string, answer: string): Promise<void>;
  /** The run has ended (the client may start another one). */
  ended(): void;
  /** How long to wait for `generation_canceled` after a cancel before giving up on it. */
  confirmTimeoutMs: number;
}

type State = 'running' | 'stopping' | 'done';

/** How long to wait for `busy` after `buzzy` (the host sends both at once; old servers only sent `buzzy`). */
const BUSY_AFTER_BUZZY_MS = 250;

/**
 * The run behind a `Generation`: the state machine the client drives with socket events. Internal.
 * @internal
 */
export class GenerationRun {
  readonly generation: Generation;
  readonly chunks: string[] = [];
  readonly messages: GenerationMessage[] = [];
  readonly questions: GenerationAsk[] = [];
  /** What a chat view shows: the chunks appended, a `MSG_TYPE_FULL` replacing them, the final answer at the end. */
  preview = '';
  state: State = 'running';
  error: Error | undefined;
  readonly text: Promise<string>;

  #resolve!: (text: string) => void;
  #reject!: (error: Error) => void;
  #stopReason: Error | undefined;
  #stopped: Promise<void> | undefined;
  #onStopped: (() => void) | undefined;
  #changed: Array<() => void> = [];
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #confirmTimer: ReturnType<typeof setTimeout> | undefined;
  #buzzyTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #options: GenerateOptions;
  readonly #driver: GenerationDriver | undefined;
  readonly #onAbort = () => void this.cancel();

  /** A run that is driven by the socket, or (without a driver) one that failed before it was sent. */
  constructor(options: GenerateOptions, driver: GenerationDriver | undefined, failure?: Error) {
    this.#options = options;
    this.#driver = driver;
    this.text = new Promise<string>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller that only iterates never awaits `text`: its rejection must not be reported as unhandled.
    this.text.catch(() => {});
    this.generation = new Generation(this);
    if (failure || !driver) {
      this.#finish(failure ?? new CanceledError('generate_text'));
      return;
    }
    if (options.signal?.aborted) {
      this.#finish(new CanceledError('generate_text', undefined, { cause: options.signal.reason }));
      return;
    }
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    driver.start();
    this.#arm();
  }

  chunk(chunk: string): void {
    if (this.state !== 'running') return;
    this.chunks.push(chunk);
    this.preview += chunk;
    this.#arm();
    this.#options.onChunk?.(chunk);
    this.#wake();
  }

  message(message: GenerationMessage): void {
    if (this.state !== 'running') return;
    this.messages.push(message);
    if (message.type === MSG_TYPE_FULL) this.preview = message.content;
    this.#arm();
    this.#options.onMessage?.(message);
  }

  /** A processor's question (`generation_ask`): kept, and handed to `onAsk`, whose answer is sent. */
  ask(question: GenerationAsk): void {
    if (this.state !== 'running') return;
    this.questions.push(question);
    this.#arm();
    const onAsk = this.#options.onAsk;
    if (!onAsk) return;
    void (async () => {
      const answer = await onAsk(question);
      if (typeof answer === 'string' && this.state === 'running') await this.answer(question.request_id, answer);
    })().catch(() => {
      // An onAsk that fails answers nothing; the question times out on the host.
    });
  }

  /** Answer a question of this generation. */
  answer(requestId: string, answer: string): Promise<void> {
    if (!this.#driver) return Promise.reject(new CanceledError('generation_answer'));
    return this.#driver.answer(requestId, answer);
  }

  queued(position: number): void {
    if (this.state !== 'running') return;
    this.#arm();
    this.#options.onQueued?.(position);
  }

  generated(text: string): void {
    // After a cancel was sent, wait for `generation_canceled` (always answered) so that it cannot reach the next run.
    if (this.state === 'running') this.#finish(undefined, text);
  }

  failed(payload: { error: string }): void {
    if (this.state === 'running') this.#finish(new LollmsRequestError('generate_text', payload.error, payload));
  }

  buzzy(payload: { message: string }): void {
    if (this.state !== 'running' || this.#buzzyTimer) return;
    this.#buzzyTimer = setTimeout(() => {
      if (this.state === 'running') this.#finish(new BusyError(payload.message));
    }, BUSY_AFTER_BUZZY_MS);
  }

  busy(payload: { message: string }): void {
    if (this.state === 'running') this.#finish(new BusyError(payload.message));
  }

  canceled(payload: { message: string }): void {
    if (this.state === 'done') return;
    this.#finish(this.#stopReason ?? new CanceledError('generate_text', payload.message));
  }

  /** The connection is gone, or the client closed. */
  fail(error: Error): void {
    if (this.state !== 'done') this.#finish(error);
  }

  /** Send the cancel (once) and resolve when the run has ended. */
  cancel(reason?: Error): Promise<void> {
    if (this.state === 'done') return Promise.resolve();
    if (this.state === 'running') {
      this.state = 'stopping';
      this.#stopReason = reason;
      this.#clearTimers();
      this.#stopped = new Promise((resolve) => (this.#onStopped = resolve));
      this.#driver?.cancel();
      this.#confirmTimer = setTimeout(() => this.#finish(this.#stopReason ?? new CanceledError('generate_text')), this.#driver?.confirmTimeoutMs ?? 0);
      this.#wake();
    }
    return this.#stopped ?? Promise.resolve();
  }

  /** Resolves at the next chunk or at the end. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#changed.push(resolve));
  }

  #arm(): void {
    const ms = this.#options.timeoutMs ?? 0;
    if (ms <= 0 || this.state !== 'running') return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => void this.cancel(new LollmsTimeoutError('generate_text', ms)), ms);
  }

  #clearTimers(): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#buzzyTimer);
    clearTimeout(this.#confirmTimer);
  }

  #wake(): void {
    const waiters = this.#changed;
    this.#changed = [];
    for (const wake of waiters) wake();
  }

  #finish(error: Error | undefined, text?: string): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.#clearTimers();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    if (error) {
      this.error = error;
      this.#reject(error);
    } else {
      const answer = text ?? this.chunks.join('');
      this.preview = answer;
      this.#resolve(answer);
    }
    this.#onStopped?.();
    this.#wake();
    if (this.#driver) this.#driver.ended();
  }
}

/**
 * A generation in flight. Iterate it with `for await` to get the text chunks as they arrive, or await `text` for
 * the answer; both may be used together, and iterating again replays the chunks from the start.
 *
 * - `text` resolves with the answer: the server's final text (`text_generated`), or rejects with `BusyError`,
 *   `CanceledError`, `LollmsRequestError` (`generation_error`), `LollmsTimeoutError` or `LollmsConnectionError`.
 *   The iterator throws the same error after the chunks received before it.
 * - The chunks are what was streamed. In raw mode and for a personality without a workflow they join into
 *   `text`; a processor's workflow may stream drafts or steps and answer with another text, and a
 *   `processModelOutput` hook may rewrite the answer after it was streamed. Show `preview` while it runs and
 *   keep `text` (protocol §3.4).
 * - Leaving a `for await` loop early (`break`, `return`, a throw in the body) cancels the generation.
 */
export class Generation implements AsyncIterable<string> {
  readonly #run: GenerationRun;

  /** @internal Made by `LollmsClient.generate()`. */
  constructor(run: GenerationRun) {
    this.#run = run;
  }

  /**
   * The answer: the server's final text, which the discussion records. It is not always the chunks joined (see
   * the class comment). Never reported as an unhandled rejection when you only iterate.
   */
  get text(): Promise<string> {
    return this.#run.text;
  }

  /** The chunks received so far, joined: what was streamed (not always the answer, see `text`). */
  get streamed(): string {
    return this.#run.chunks.join('');
  }

  /**
   * What a chat view shows now, by the protocol's rules: the chunks appended as they come, a `MSG_TYPE_FULL`
   * message replacing that text with its own, and the answer (`text`) once the generation ended with one.
   */
  get preview(): string {
    return this.#run.preview;
  }

  /** The `generation_message` events received so far (personality mode with a processor), in order. */
  get messages(): readonly GenerationMessage[] {
    return this.#run.messages;
  }

  /** The chunks received so far. */
  get chunks(): readonly string[] {
    return this.#run.chunks;
  }

  /** The questions the processor asked so far (`generation_ask`), in order; see `GenerateOptions.onAsk`. */
  get questions(): readonly GenerationAsk[] {
    return this.#run.questions;
  }

  /**
   * Answer one of `questions` (`generation_answer`); resolves once the host took it. Rejects with
   * `LollmsRequestError` when it was refused (see `LollmsClient.answer`).
   */
  answer(requestId: string, answer: string): Promise<void> {
    return this.#run.answer(requestId, answer);
  }

  /** True once the generation has ended, whatever the outcome. */
  get done(): boolean {
    return this.#run.state === 'done';
  }

  /**
   * Cancel: send `cancel_generation` and resolve once the host has confirmed (`generation_canceled`). `text` then
   * rejects with `CanceledError`. Does nothing when the generation has already ended.
   */
  cancel(): Promise<void> {
    return this.#run.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    const run = this.#run;
    let index = 0;
    return {
      async next(): Promise<IteratorResult<string>> {
        for (;;) {
          if (index < run.chunks.length) return { value: run.chunks[index++]!, done: false };
          if (run.state === 'done') {
            if (run.error) throw run.error;
            return { value: undefined, done: true };
          }
          await run.changed();
        }
      },
      async return(): Promise<IteratorResult<string>> {
        await run.cancel();
        return { value: undefined, done: true };
      },
    };
  }
}
