/**
 * The live trace of one turn: what a processor's workflow reports through `generation_message` (steps with
 * start, end, duration and success; progress bars; info, warning and exception; JSON as a tree; code; sandboxed
 * HTML; tool calls), the questions it asks (`generation_ask`, answered here) and the queue position.
 *
 * The host's messages carry no timestamps: start and end are when the console received them.
 */
import type { GenerationMessage } from 'lollms-host/client';
import { MSG_TYPE } from '../../plugin-api/messages.js';
import { h, formatDuration, messageOf, uid } from './dom.js';
import { jsonTree } from './json-tree.js';
import { uiFrame } from './ui-frame.js';
import type { GenerationAsk } from './pending-wire.js';

/** More messages than this in one turn are counted, not drawn. */
export const MAX_TRACE_ENTRIES = 1000;

interface OpenStep {
  text: string;
  row: HTMLLIElement;
  startedAt: number;
  status: HTMLElement;
  times: HTMLElement;
  progress: HTMLProgressElement;
}

const clock = (at: number) => {
  const d = new Date(at);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};

/** A one-line label for a message type: `MSG_TYPE_STEP_START` → `step start`. */
function typeLabel(message: GenerationMessage): string {
  return (message.type_name || `type ${message.type}`).replace(/^MSG_TYPE_/, '').toLowerCase().replace(/_/g, ' ');
}

/** A tool call, if the message is one (the host's shape is not fixed yet: name + arguments in the metadata). */
function toolCallOf(message: GenerationMessage): { name: string; args: unknown; result?: unknown } | undefined {
  const meta = message.metadata ?? {};
  const call = (meta.tool_call ?? meta.toolCall ?? (/TOOL/.test(message.type_name) ? meta : undefined)) as Record<string, unknown> | undefined;
  if (!call || typeof call !== 'object') return undefined;
  const name = typeof call.name === 'string' ? call.name : typeof meta.name === 'string' ? meta.name : message.content;
  return { name, args: call.arguments ?? call.args ?? {}, ...('result' in call ? { result: call.result } : {}) };
}

export class TraceView {
  readonly element: HTMLElement;
  readonly #list: HTMLOListElement;
  readonly #state: HTMLElement;
  readonly #open: OpenStep[] = [];
  #count = 0;
  #dropped = 0;
  #droppedNote: HTMLElement | undefined;

  constructor(title: string) {
    const headingId = uid('trace');
    this.#state = h('span', { class: 'trace-state' }, 'waiting');
    this.#list = h('ol', { class: 'trace-list', role: 'log', 'aria-live': 'polite', 'aria-labelledby': headingId });
    this.element = h('section', { class: 'trace-turn', 'aria-labelledby': headingId }, h('h3', { id: headingId }, title, ' ', this.#state), this.#list);
  }

  /** How many messages the turn has sent. */
  get count(): number {
    return this.#count;
  }

  setState(text: string): void {
    this.#state.textContent = text;
  }

  /** A `generation_message`. */
  message(message: GenerationMessage): void {
    this.#count += 1;
    this.#draw(message, Date.now());
  }

  #draw(message: GenerationMessage, at: number): unknown {
    switch (message.type) {
      case MSG_TYPE.MSG_TYPE_STEP_START:
        return this.#stepStart(message.content, at);
      case MSG_TYPE.MSG_TYPE_STEP_PROGRESS:
        return this.#stepProgress(message, at);
      case MSG_TYPE.MSG_TYPE_STEP_END:
        return this.#stepEnd(message, at);
      case MSG_TYPE.MSG_TYPE_STEP:
        return this.#add('step', h('span', { class: 'step-label' }, message.content), h('span', { class: 'times' }, clock(at)));
      case MSG_TYPE.MSG_TYPE_INFO:
      case MSG_TYPE.MSG_TYPE_WARNING:
      case MSG_TYPE.MSG_TYPE_EXCEPTION: {
        const kind = message.type === MSG_TYPE.MSG_TYPE_INFO ? 'info' : message.type === MSG_TYPE.MSG_TYPE_WARNING ? 'warning' : 'exception';
        return this.#add(kind, h('strong', { class: 'badge' }, kind), ' ', h('span', { class: 'text' }, message.content));
      }
      case MSG_TYPE.MSG_TYPE_JSON_INFOS: {
        const title = typeof message.metadata?.title === 'string' ? message.metadata.title : 'JSON';
        let tree: HTMLElement;
        try {
          tree = jsonTree(JSON.parse(message.content), title);
        } catch {
          tree = h('pre', { class: 'code' }, message.content);
        }
        return this.#add('json', tree);
      }
      case MSG_TYPE.MSG_TYPE_CODE:
        return this.#add('code', h('pre', { class: 'code', tabindex: 0, 'aria-label': 'code' }, h('code', {}, message.content)));
      case MSG_TYPE.MSG_TYPE_UI:
        return this.#add('ui', uiFrame(message.content));
      case MSG_TYPE.MSG_TYPE_FULL:
        return this.#add('note', h('span', { class: 'text' }, `answer replaced by the processor (${message.content.length} characters)`));
      default: {
        const tool = toolCallOf(message);
        if (tool) {
          return this.#add(
            'tool',
            h('strong', { class: 'badge' }, 'tool call'),
            ' ',
            h('code', {}, tool.name),
            jsonTree(tool.args, 'arguments'),
            'result' in tool ? jsonTree(tool.result, 'result') : null,
          );
        }
        const meta = message.metadata && Object.keys(message.metadata).length > 0 ? jsonTree(message.metadata, 'metadata') : null;
        return this.#add('other', h('strong', { class: 'badge' }, typeLabel(message)), ' ', h('span', { class: 'text' }, message.content), meta);
      }
    }
  }

  /** A position in the host's queue (`generation_queued`). */
  queued(position: number): void {
    const text = position > 0 ? `queued: position ${position}` : 'starting';
    this.setState(text);
    this.#add('queue', h('span', { class: 'text' }, text), ' ', h('span', { class: 'times' }, clock(Date.now())));
  }

  /**
   * A question of the processor (`ctx.ask`), answered in place: a button per choice, or a text field. `answer`
   * sends the reply; its rejection is shown next to the question.
   */
  ask(question: GenerationAsk, answer: (text: string) => Promise<void>): void {
    this.#count += 1;
    const status = h('p', { class: 'ask-status', role: 'status' });
    const deadline = Date.now() + Math.max(0, question.timeout_ms || 0);
    const controls: HTMLElement[] = [];
    let done = false;
    const send = async (text: string) => {
      if (done) return;
      done = true;
      for (const c of controls) c.setAttribute('disabled', '');
      status.textContent = 'sending…';
      try {
        await answer(text);
        status.textContent = `answered: ${text}`;
      } catch (error) {
        status.textContent = `not delivered: ${messageOf(error)}`;
        status.classList.add('error-text');
      }
    };
    const label = uid('ask');
    let form: HTMLElement;
    if (question.choices && question.choices.length > 0) {
      form = h('div', { class: 'ask-choices', role: 'group', 'aria-labelledby': label });
      for (const choice of question.choices) {
        const button = h('button', { type: 'button', onclick: () => void send(choice) }, choice);
        controls.push(button);
        form.append(button);
      }
    } else {
      const input = h('input', { type: 'text', 'aria-labelledby': label, maxlength: 10000 });
      const button = h('button', { type: 'submit' }, 'Answer');
      controls.push(input, button);
      form = h(
        'form',
        {
          class: 'ask-form',
          onsubmit: (event: Event) => {
            event.preventDefault();
            void send(input.value);
          },
        },
        input,
        button,
      );
    }
    const expires = question.timeout_ms > 0 ? h('p', { class: 'hint' }, `answer before ${clock(deadline)}`) : null;
    this.#add('ask', h('p', { id: label, class: 'ask-question' }, h('strong', { class: 'badge' }, 'question'), ' ', question.question), form, expires, status);
  }

  /** The turn ended: open steps are closed as interrupted. */
  end(outcome: string): void {
    const at = Date.now();
    for (const step of this.#open.splice(0)) {
      step.status.textContent = 'interrupted';
      step.row.classList.add('step-interrupted');
      step.times.textContent = `${clock(step.startedAt)} → ${clock(at)} · ${formatDuration(at - step.startedAt)}`;
      step.progress.hidden = true;
    }
    this.setState(outcome);
  }

  #stepStart(text: string, at: number): void {
    const status = h('span', { class: 'step-status', 'aria-label': 'running' }, 'running');
    const times = h('span', { class: 'times' }, `${clock(at)} →`);
    const progress = h('progress', { max: 100, hidden: true, 'aria-label': `progress of ${text}` });
    const row = this.#add('step step-running', status, ' ', h('span', { class: 'step-label' }, text), ' ', times, progress);
    if (row) this.#open.push({ text, row, startedAt: at, status, times, progress });
  }

  /** The open step with this text, else the latest open one. */
  #findOpen(text: string): OpenStep | undefined {
    for (let i = this.#open.length - 1; i >= 0; i--) if (this.#open[i]!.text === text) return this.#open[i];
    return this.#open[this.#open.length - 1];
  }

  #stepProgress(message: GenerationMessage, at: number): void {
    const raw = Number(message.metadata?.progress);
    const value = Number.isFinite(raw) ? Math.min(100, Math.max(0, raw)) : 0;
    let step = this.#findOpen(message.content);
    if (!step) {
      // Progress without a started step: show it as a step of its own.
      this.#stepStart(message.content, at);
      step = this.#open[this.#open.length - 1];
      if (!step) return;
    }
    step.progress.hidden = false;
    step.progress.value = value;
    step.progress.textContent = `${value}%`;
  }

  #stepEnd(message: GenerationMessage, at: number): void {
    const success = message.metadata?.status !== false;
    const step = this.#findOpen(message.content);
    if (!step) {
      this.#add(`step ${success ? 'step-ok' : 'step-failed'}`, h('span', { class: 'step-status' }, success ? 'done' : 'failed'), ' ', h('span', { class: 'step-label' }, message.content), ' ', h('span', { class: 'times' }, `→ ${clock(at)}`));
      return;
    }
    this.#open.splice(this.#open.indexOf(step), 1);
    step.row.classList.remove('step-running');
    step.row.classList.add(success ? 'step-ok' : 'step-failed');
    step.status.textContent = success ? 'done' : 'failed';
    step.status.setAttribute('aria-label', success ? 'succeeded' : 'failed');
    step.times.textContent = `${clock(step.startedAt)} → ${clock(at)} · ${formatDuration(at - step.startedAt)}`;
    if (success && !step.progress.hidden) step.progress.value = 100;
  }

  #add(kind: string, ...children: Array<Node | string | null>): HTMLLIElement | undefined {
    if (this.#list.children.length >= MAX_TRACE_ENTRIES) {
      this.#dropped += 1;
      this.#droppedNote ??= this.#list.appendChild(h('li', { class: 'trace-entry trace-dropped' }));
      this.#droppedNote.textContent = `${this.#dropped} more messages not shown`;
      return undefined;
    }
    const row = h('li', { class: `trace-entry trace-${kind.split(' ')[0]} ${kind}` }, ...children);
    this.#list.append(row);
    return row;
  }
}
