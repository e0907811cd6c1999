/**
 * A processor's question (`ctx.ask`, the `generation_ask` event) as the conversation shows it: the question, a
 * button per choice or a text field, and the time left to answer (`timeout_ms`, counted from when it arrived).
 * It is answered in place (`generation_answer`, sent by `answer`) and closes when answered, when its time is up,
 * when the host refuses the answer for good, or when the turn ends (`close`).
 */
import { LollmsRequestError, type GenerationAsk } from 'lollms-host/client';
import { clock, h, messageOf, uid } from './dom.js';

/** How a question ended. */
export type QuestionState = 'waiting' | 'answered' | 'expired' | 'failed' | 'closed';

export interface QuestionCardOptions {
  question: GenerationAsk;
  /** Who asks (the personality's name). */
  asker: string;
  /** Send the answer; rejects when the host refuses it. */
  answer(text: string): Promise<void>;
  /** Called with each change of state and the text that says it. */
  onChange?(state: QuestionState, text: string): void;
}

/** A question's time left, as `4:59`. */
export function timeLeft(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class QuestionCard {
  readonly element: HTMLLIElement;
  readonly #options: QuestionCardOptions;
  readonly #deadline: number;
  readonly #status: HTMLElement;
  readonly #countdown: HTMLElement;
  readonly #controls: Array<HTMLButtonElement | HTMLInputElement> = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #state: QuestionState = 'waiting';

  constructor(options: QuestionCardOptions) {
    this.#options = options;
    const { question } = options;
    this.#deadline = Date.now() + Math.max(0, question.timeout_ms || 0);
    this.#status = h('p', { class: 'ask-status', role: 'status' });
    this.#countdown = h('span', { class: 'ask-countdown' });
    const label = uid('ask');
    let form: HTMLElement;
    if (question.choices && question.choices.length > 0) {
      form = h('div', { class: 'ask-choices', role: 'group', 'aria-labelledby': label });
      for (const choice of question.choices) {
        const button = h('button', { type: 'button', onclick: () => void this.#send(choice) }, choice);
        this.#controls.push(button);
        form.append(button);
      }
    } else {
      const input = h('input', { type: 'text', 'aria-labelledby': label, maxlength: 10000, autocomplete: 'off' });
      const button = h('button', { type: 'submit' }, 'Answer');
      this.#controls.push(input, button);
      form = h(
        'form',
        {
          class: 'ask-form',
          onsubmit: (event: Event) => {
            event.preventDefault();
            void this.#send(input.value);
          },
        },
        input,
        button,
      );
    }
    const deadline = h('p', { class: 'hint ask-deadline' }, 'answer within ', this.#countdown, ` (before ${clock(this.#deadline)}); then the workflow goes on without it`);
    this.element = h(
      'li',
      { class: 'turn ask-card', 'data-state': 'waiting', 'data-request-id': question.request_id },
      h('p', { class: 'turn-who' }, `${options.asker} asks`),
      h('p', { id: label, class: 'ask-question' }, h('strong', { class: 'badge' }, 'question'), ' ', question.question),
      form,
      deadline,
      this.#status,
    );
    this.#tick();
    if (this.#state === 'waiting') this.#timer = setInterval(() => this.#tick(), 1000);
  }

  get state(): QuestionState {
    return this.#state;
  }

  /** Focus the first control (the user is in the chat). */
  focus(): void {
    this.#controls[0]?.focus({ preventScroll: true });
  }

  /** The turn ended: a question still open no longer waits (or its time was up already). */
  close(text = 'not answered: the turn ended'): void {
    if (Date.now() >= this.#deadline) this.#expire();
    else this.#finish('closed', text);
  }

  #tick(): void {
    const left = this.#deadline - Date.now();
    this.#countdown.textContent = timeLeft(left);
    if (left <= 0) this.#expire();
  }

  #expire(): void {
    this.#countdown.textContent = timeLeft(0);
    this.#finish('expired', 'timed out: the workflow went on without an answer');
  }

  #finish(state: Exclude<QuestionState, 'waiting'>, text: string): void {
    if (this.#state !== 'waiting') return;
    this.#state = state;
    clearInterval(this.#timer);
    this.#enable(false);
    this.#status.textContent = text;
    this.#status.classList.toggle('error-text', state === 'failed');
    this.element.dataset.state = state;
    this.#options.onChange?.(state, text);
  }

  #enable(enabled: boolean): void {
    for (const c of this.#controls) c.disabled = !enabled;
  }

  async #send(text: string): Promise<void> {
    if (this.#state !== 'waiting') return;
    this.#enable(false);
    this.#status.textContent = 'sending…';
    this.#status.classList.remove('error-text');
    try {
      await this.#options.answer(text);
      this.#finish('answered', `answered: ${text}`);
    } catch (error) {
      if (this.#state !== 'waiting') return;
      const reason = error instanceof LollmsRequestError ? error.serverMessage : messageOf(error);
      // The host keeps a question open when the answer is not one of its choices; any other refusal ends it.
      if (error instanceof LollmsRequestError && /one of the choices/.test(reason) && Date.now() < this.#deadline) {
        this.#status.textContent = `refused: ${reason}`;
        this.#status.classList.add('error-text');
        this.#enable(true);
      } else {
        this.#finish('failed', `not delivered: ${reason}`);
      }
    }
  }
}
