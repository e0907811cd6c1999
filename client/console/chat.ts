/**
 * Chat with the loaded model (raw prompt) or a mounted personality: streaming, cancel, a new discussion and the
 * sampling values, with each turn's workflow trace beside the transcript.
 */
import { BusyError, CanceledError, LollmsRequestError, type Generation, type GenerationMessage, type SamplingParameters } from 'lollms-host/client';
import { MSG_TYPE } from '../../plugin-api/messages.js';
import type { HostConnection } from './connection.js';
import { h, field, formatDuration, messageOf, replace } from './dom.js';
import type { ConsoleState } from './state.js';
import { QuestionCard } from './question.js';
import { TraceView } from './trace.js';

/** The traces of older turns are dropped past this many (each holds up to MAX_TRACE_ENTRIES messages). */
const MAX_TRACED_TURNS = 50;

/** A sampling input: its wire key, label, bounds and whether it applies in personality mode. */
interface SamplingSpec {
  key: 'n_predicts' | keyof SamplingParameters;
  label: string;
  min: number;
  max?: number;
  step: string;
  integer: boolean;
  personality: boolean;
}

/** The ranges of protocol §3.1. */
const SAMPLING: SamplingSpec[] = [
  { key: 'n_predicts', label: 'Max tokens', min: 1, step: '1', integer: true, personality: true },
  { key: 'temperature', label: 'Temperature', min: 0, step: 'any', integer: false, personality: false },
  { key: 'top_k', label: 'Top k', min: 0, step: '1', integer: true, personality: false },
  { key: 'top_p', label: 'Top p', min: 0, max: 1, step: 'any', integer: false, personality: false },
  { key: 'repeat_penalty', label: 'Repeat penalty', min: 0, step: 'any', integer: false, personality: false },
  { key: 'repeat_last_n', label: 'Repeat last n', min: 0, step: '1', integer: true, personality: false },
  { key: 'seed', label: 'Seed', min: -1, step: '1', integer: true, personality: false },
];

/** The states of a turn that has not ended. */
const RUNNING_STATES = new Set(['queued', 'running', 'asking', 'streaming']);

/** The answer bubble of one turn. */
class AnswerView {
  readonly element: HTMLLIElement;
  readonly #text = document.createTextNode('');
  readonly #status: HTMLElement;
  chunks = 0;

  constructor(target: string) {
    this.#status = h('p', { class: 'turn-status', role: 'status' }, 'waiting for the host…');
    this.element = h('li', { class: 'turn turn-assistant', 'aria-busy': 'true' }, h('p', { class: 'turn-who' }, target), h('div', { class: 'turn-text' }, this.#text), this.#status);
  }

  append(chunk: string): void {
    this.chunks += 1;
    this.#text.appendData(chunk);
    if (this.chunks === 1) this.status('streaming…', 'streaming');
  }

  setText(text: string): void {
    this.#text.data = text;
  }

  get text(): string {
    return this.#text.data;
  }

  status(text: string, state: string): void {
    this.#status.textContent = text;
    this.element.dataset.state = state;
    if (!RUNNING_STATES.has(state)) this.element.removeAttribute('aria-busy');
  }
}

export class ChatView {
  readonly element: HTMLElement;
  readonly #conn: HostConnection;
  readonly #state: ConsoleState;
  readonly #target: HTMLSelectElement;
  readonly #prompt: HTMLTextAreaElement;
  readonly #send: HTMLButtonElement;
  readonly #cancel: HTMLButtonElement;
  readonly #transcript: HTMLOListElement;
  readonly #traces: HTMLElement;
  readonly #error: HTMLElement;
  readonly #sampling = new Map<SamplingSpec, HTMLInputElement>();
  readonly #samplingHint: HTMLElement;
  #generation: Generation | undefined;
  #turns = 0;
  #following = false;
  /** The transcript is scrolled to its end (it then follows the stream). */
  #stick = true;
  /** Called when a turn ends (the status view refreshes). */
  onTurnEnd: (() => void) | undefined;

  constructor(conn: HostConnection, state: ConsoleState) {
    this.#conn = conn;
    this.#state = state;
    this.#target = h('select', { onchange: () => this.#updateSampling() });
    this.#prompt = h('textarea', { rows: 3, placeholder: 'Write a message; Enter sends, Shift+Enter starts a new line', onkeydown: (e: KeyboardEvent) => this.#onKey(e) });
    this.#send = h('button', { type: 'submit', class: 'primary' }, 'Send');
    this.#cancel = h('button', { type: 'button', disabled: true, onclick: () => void this.cancel() }, 'Cancel');
    this.#transcript = h('ol', {
      class: 'transcript',
      role: 'log',
      'aria-live': 'polite',
      'aria-label': 'Discussion',
      onscroll: () => {
        const t = this.#transcript;
        this.#stick = t.scrollHeight - t.scrollTop - t.clientHeight < 48;
      },
    });
    this.#traces = h('div', { class: 'traces' }, h('p', { class: 'hint empty-note' }, 'A personality with a processor reports its steps here.'));
    this.#error = h('p', { class: 'error-text form-error', role: 'alert' });
    this.#samplingHint = h('p', { class: 'hint' });

    const samplingFields = SAMPLING.map((spec) => {
      const input = h('input', { type: 'number', min: spec.min, max: spec.max, step: spec.step, inputmode: spec.integer ? 'numeric' : 'decimal', placeholder: 'default' });
      this.#sampling.set(spec, input);
      return field(spec.label, input);
    });

    const form = h(
      'form',
      {
        class: 'composer',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void this.send();
        },
      },
      field('Message', this.#prompt),
      h('div', { class: 'buttons' }, this.#send, this.#cancel, h('button', { type: 'button', onclick: () => void this.newDiscussion() }, 'New discussion')),
      this.#error,
      h('details', { class: 'sampling' }, h('summary', {}, 'Sampling'), h('fieldset', {}, h('legend', { class: 'visually-hidden' }, 'Sampling values'), this.#samplingHint, h('div', { class: 'sampling-grid' }, samplingFields))),
    );

    this.element = h(
      'div',
      { class: 'chat' },
      h(
        'section',
        { class: 'chat-main', 'aria-labelledby': 'chat-title' },
        h('div', { class: 'chat-head' }, h('h2', { id: 'chat-title' }, 'Chat'), field('Chat with', this.#target)),
        this.#transcript,
        form,
      ),
      h('section', { class: 'trace-panel', 'aria-labelledby': 'trace-title' }, h('h2', { id: 'trace-title' }, 'Workflow trace'), this.#traces),
    );
    state.on('personalities', () => this.#fillTargets());
    this.#fillTargets();
  }

  /** Chat with `id` (-1: the model) from now on. */
  selectTarget(id: number): void {
    this.#target.value = String(id);
    this.#updateSampling();
    this.#prompt.focus();
  }

  /** Send the prompt; resolves when the turn has ended. */
  async send(): Promise<void> {
    if (this.#generation) return;
    const prompt = this.#prompt.value;
    if (!prompt.trim()) {
      this.#error.textContent = 'Write a message first.';
      this.#prompt.focus();
      return;
    }
    const sampling = this.#readSampling();
    if (typeof sampling === 'string') {
      this.#error.textContent = sampling;
      return;
    }
    this.#error.textContent = '';
    const personality = Number(this.#target.value);
    const targetName = this.#target.selectedOptions[0]?.textContent ?? 'model';
    this.#turns += 1;
    this.#prompt.value = '';
    this.#transcript.append(h('li', { class: 'turn turn-user' }, h('p', { class: 'turn-who' }, 'You'), h('div', { class: 'turn-text' }, prompt)));
    const answer = new AnswerView(targetName);
    this.#transcript.append(answer.element);
    this.#stick = true;
    this.#transcript.scrollTop = this.#transcript.scrollHeight;
    const trace = new TraceView(`Turn ${this.#turns} · ${targetName}`);
    this.#traces.querySelector('.empty-note')?.remove();
    this.#traces.prepend(trace.element);
    while (this.#traces.children.length > MAX_TRACED_TURNS) this.#traces.lastElementChild?.remove();
    trace.setState('running');

    const client = this.#conn.chat;
    let waiting = 0; // questions waiting for the user
    const cards: QuestionCard[] = [];
    let ended = false;
    const started = performance.now();
    const running = () => {
      trace.started();
      if (waiting === 0 && answer.element.dataset.state !== 'streaming') answer.status(answer.chunks > 0 ? 'streaming…' : 'working…', answer.chunks > 0 ? 'streaming' : 'running');
    };
    const generation = client.generate(prompt, {
      personality,
      ...(sampling.n_predicts !== undefined ? { nPredicts: sampling.n_predicts } : {}),
      ...(personality < 0 && Object.keys(sampling.parameters).length > 0 ? { parameters: sampling.parameters } : {}),
      onChunk: (chunk) => {
        if (answer.chunks === 0) trace.started();
        answer.append(chunk);
        this.#follow();
      },
      onMessage: (message: GenerationMessage) => {
        running();
        trace.message(message);
        if (message.type === MSG_TYPE.MSG_TYPE_FULL) answer.setText(message.content);
      },
      onQueued: (position) => {
        trace.queued(position);
        answer.status(position > 0 ? `queued: position ${position}` : 'queued: next in line', 'queued');
      },
      // The user answers in the conversation; returning nothing here, the client sends nothing by itself.
      onAsk: (question) => {
        trace.started();
        waiting += 1;
        answer.status('waiting for your answer', 'asking');
        const traced = trace.question(question);
        const card = new QuestionCard({
          question,
          asker: targetName,
          answer: (text) => generation.answer(question.request_id, text),
          onChange: (state, text) => {
            traced(text, state);
            waiting -= 1;
            if (waiting === 0 && !ended) running();
          },
        });
        cards.push(card);
        // Asked in the conversation, above the answer they shape.
        this.#transcript.insertBefore(card.element, answer.element);
        const active = document.activeElement;
        if (!active || active === document.body || this.element.contains(active)) card.focus();
        this.#stick = true;
        this.#follow();
        return undefined;
      },
    });
    this.#generation = generation;
    this.#setRunning(true);
    try {
      const text = await generation.text;
      ended = true;
      answer.setText(text);
      const took = formatDuration(performance.now() - started);
      answer.status(`done · ${answer.chunks} chunks · ${took}`, 'done');
      trace.end(trace.count > 0 ? `done · ${took}` : 'done · no workflow messages');
    } catch (error) {
      ended = true;
      const [text, state] =
        error instanceof CanceledError
          ? ['cancelled', 'cancelled']
          : error instanceof BusyError
            ? [error.local ? 'a generation is already running' : 'the host is busy with another client: try again in a moment', 'busy']
            : error instanceof LollmsRequestError
              ? [`error: ${error.serverMessage}`, 'error']
              : [`error: ${messageOf(error)}`, 'error'];
      answer.status(text, state);
      trace.end(text);
    } finally {
      for (const card of cards) card.close();
      this.#generation = undefined;
      this.#setRunning(false);
      this.onTurnEnd?.();
    }
  }

  /** Cancel the running turn; resolves once the host confirmed. */
  async cancel(): Promise<void> {
    await this.#generation?.cancel();
  }

  /** Forget the discussion: a new connection, an empty transcript and trace. */
  async newDiscussion(): Promise<void> {
    await this.cancel();
    replace(this.#transcript);
    replace(this.#traces, h('p', { class: 'hint empty-note' }, 'New discussion.'));
    this.#turns = 0;
    await this.#conn.newDiscussion();
    this.#prompt.focus();
  }

  /** Keep the newest text in view while it streams, unless the user scrolled up (at most once per frame). */
  #follow(): void {
    if (this.#following || !this.#stick) return;
    this.#following = true;
    requestAnimationFrame(() => {
      this.#following = false;
      this.#transcript.scrollTop = this.#transcript.scrollHeight;
    });
  }

  #onKey(event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void this.send();
    } else if (event.key === 'Escape' && this.#generation) {
      event.preventDefault();
      void this.cancel();
    }
  }

  #setRunning(running: boolean): void {
    this.#send.disabled = running;
    this.#cancel.disabled = !running;
    this.#target.disabled = running;
  }

  #fillTargets(): void {
    const current = this.#target.value;
    replace(
      this.#target,
      h('option', { value: '-1' }, `Model${this.#state.model ? ` ${this.#state.model}` : ''} (raw prompt)`),
      this.#state.personalities.map((p) => h('option', { value: String(p.id) }, `${p.name} (personality ${p.id})`)),
    );
    if ([...this.#target.options].some((o) => o.value === current)) this.#target.value = current;
    this.#updateSampling();
  }

  #updateSampling(): void {
    const personality = Number(this.#target.value) >= 0;
    for (const [spec, input] of this.#sampling) input.disabled = personality && !spec.personality;
    this.#samplingHint.textContent = personality
      ? "A personality samples with its own values; only Max tokens applies."
      : 'Empty fields use the host\u2019s defaults.';
  }

  /** The sampling values set, or why they are wrong. */
  #readSampling(): { n_predicts?: number; parameters: SamplingParameters } | string {
    const parameters: Record<string, number> = {};
    let nPredicts: number | undefined;
    for (const [spec, input] of this.#sampling) {
      if (input.disabled || input.value.trim() === '') continue;
      const value = Number(input.value);
      const wrong =
        !Number.isFinite(value) || (spec.integer && !Number.isInteger(value))
          ? `expected ${spec.integer ? 'an integer' : 'a number'}`
          : value < spec.min
            ? `at least ${spec.min}`
            : spec.max !== undefined && value > spec.max
              ? `at most ${spec.max}`
              : undefined;
      if (wrong) {
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return `${spec.label}: ${wrong}.`;
      }
      input.removeAttribute('aria-invalid');
      if (spec.key === 'n_predicts') nPredicts = value;
      else parameters[spec.key] = value;
    }
    return { ...(nPredicts !== undefined ? { n_predicts: nPredicts } : {}), parameters: parameters as SamplingParameters };
  }
}
