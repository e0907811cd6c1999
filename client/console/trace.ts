/**
 * The live trace of one turn: what a processor's workflow reports through `generation_message` (steps with
 * start, end, duration and success; progress bars; info, warning and exception; JSON as a tree; code; sandboxed
 * HTML; the tool calls of `ctx.chat`), the questions it asks (`generation_ask`, answered here) and the queue
 * position (`generation_queued`).
 *
 * The host's messages carry no timestamps: start and end are when the console received them.
 */
import type { GenerationAsk, GenerationMessage } from 'lollms-host/client';
import { MSG_TYPE } from '../../plugin-api/messages.js';
import { clock, h, formatDuration, uid } from './dom.js';
import { jsonTree } from './json-tree.js';
import { uiFrame } from './ui-frame.js';

/** More messages than this in one turn are counted, not drawn. */
export const MAX_TRACE_ENTRIES = 1000;

interface OpenStep {
  text: string;
  /** The id of the tool call the step runs (`metadata.tool_call.id`), if it is one. */
  toolCallId?: string;
  row: HTMLLIElement;
  startedAt: number;
  status: HTMLElement;
  times: HTMLElement;
  progress: HTMLProgressElement;
}


/** A one-line label for a message type: `MSG_TYPE_STEP_START` → `step start`. */
function typeLabel(message: GenerationMessage): string {
  return (message.type_name || `type ${message.type}`).replace(/^MSG_TYPE_/, '').toLowerCase().replace(/_/g, ' ');
}

/** The tool call of `ctx.chat` a step message runs (processor-host.ts: `metadata.tool_call = {id, name, arguments}`). */
interface ToolCallMeta {
  id: string;
  name: string;
  arguments: unknown;
}

function toolCallOf(message: GenerationMessage): ToolCallMeta | undefined {
  const call = message.metadata?.tool_call as Partial<ToolCallMeta> | undefined;
  if (!call || typeof call !== 'object' || typeof call.id !== 'string' || typeof call.name !== 'string') return undefined;
  return { id: call.id, name: call.name, arguments: call.arguments };
}

/** A tool's result (its text, as the model got it, cut at 4 KiB): a tree when it is JSON, else the text. */
function toolResult(result: string, failed: boolean): HTMLElement {
  let value: unknown;
  try {
    value = JSON.parse(result);
  } catch {
    value = undefined; // not JSON: shown as text
  }
  if (failed) {
    // The sandbox tells the model `{"error": message}` when a handler throws.
    const message = typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'string' ? (value as { error: string }).error : result;
    return h('div', { class: 'tool-result' }, h('span', { class: 'json-key' }, 'error: '), h('code', { class: 'error-text' }, message));
  }
  if (typeof value === 'object' && value !== null) return h('div', { class: 'tool-result' }, jsonTree(value, 'result'));
  return h('div', { class: 'tool-result' }, h('span', { class: 'json-key' }, 'result: '), h('code', {}, result));
}

export class TraceView {
  readonly element: HTMLElement;
  readonly #list: HTMLOListElement;
  readonly #state: HTMLElement;
  readonly #open: OpenStep[] = [];
  #count = 0;
  #dropped = 0;
  #droppedNote: HTMLElement | undefined;
  /** The queue row, while and after the turn waited for a slot. */
  #queue: { since: number; label: HTMLElement; times: HTMLElement; done: boolean } | undefined;

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
      case MSG_TYPE.MSG_TYPE_STEP_START: {
        const tool = toolCallOf(message);
        return tool ? this.#toolStart(message.content, tool, at) : this.#stepStart(message.content, at);
      }
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
        const meta = message.metadata && Object.keys(message.metadata).length > 0 ? jsonTree(message.metadata, 'metadata') : null;
        return this.#add('other', h('strong', { class: 'badge' }, typeLabel(message)), ' ', h('span', { class: 'text' }, message.content), meta);
      }
    }
  }

  /**
   * A position in the host's queue (`generation_queued`, re-sent when it changes): one row, updated in place,
   * that says how long the turn waited once it starts (`started`).
   */
  queued(position: number): void {
    const at = Date.now();
    const text = position > 0 ? `queued: position ${position}` : 'queued: next in line';
    this.setState(text);
    if (!this.#queue) {
      const label = h('span', { class: 'text' });
      const times = h('span', { class: 'times' });
      const row = this.#add('queue', h('strong', { class: 'badge' }, 'queue'), ' ', label, ' ', times);
      if (!row) return;
      this.#queue = { since: at, label, times, done: false };
    }
    if (this.#queue.done) return;
    this.#queue.label.textContent = position > 0 ? `position ${position}: ${position} ${position === 1 ? 'request' : 'requests'} before this one` : 'next: starts with the next free slot';
    this.#queue.times.textContent = `waiting since ${clock(this.#queue.since)}`;
  }

  /** The turn left the queue and runs (its first chunk or message). */
  started(): void {
    const queue = this.#queue;
    if (!queue || queue.done) return;
    queue.done = true;
    const at = Date.now();
    queue.label.textContent = 'waited for a free slot';
    queue.times.textContent = `${clock(queue.since)} → ${clock(at)} · ${formatDuration(at - queue.since)}`;
    this.setState('running');
  }

  /**
   * A question of the processor (`ctx.ask`; the conversation shows it with its controls): a row with the question
   * and its choices. Call the returned function with each change of its status.
   */
  question(question: GenerationAsk): (text: string, state: string) => void {
    this.#count += 1;
    const status = h('span', { class: 'ask-status' }, 'waiting for the user');
    const choices = question.choices && question.choices.length > 0 ? h('span', { class: 'hint' }, ` (${question.choices.join(' / ')})`) : null;
    const row = this.#add('ask', h('strong', { class: 'badge' }, 'question'), ' ', h('span', { class: 'text' }, question.question), choices, ' ', h('span', { class: 'times' }, clock(Date.now())), ' · ', status);
    row?.setAttribute('data-state', 'waiting');
    return (text, state) => {
      status.textContent = text;
      row?.setAttribute('data-state', state);
    };
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

  /** A tool call of `ctx.chat`: a step with the tool's name and arguments; its end adds the result. */
  #toolStart(text: string, tool: ToolCallMeta, at: number): void {
    const status = h('span', { class: 'step-status', 'aria-label': 'running' }, 'running');
    const times = h('span', { class: 'times' }, `${clock(at)} →`);
    const progress = h('progress', { max: 100, hidden: true, 'aria-label': `progress of ${text}` });
    const row = this.#add(
      'tool step step-running',
      status,
      ' ',
      h('strong', { class: 'badge' }, 'tool call'),
      ' ',
      h('code', { class: 'tool-name' }, tool.name),
      ' ',
      times,
      h('div', { class: 'tool-arguments' }, jsonTree(tool.arguments ?? {}, 'arguments')),
      progress,
    );
    if (!row) return;
    row.dataset.toolCallId = tool.id;
    this.#open.push({ text, toolCallId: tool.id, row, startedAt: at, status, times, progress });
  }

  /** The open step with this text (or tool call), else the latest open one that is not a tool call. */
  #findOpen(text: string, toolCallId?: string): OpenStep | undefined {
    if (toolCallId !== undefined) return this.#open.find((s) => s.toolCallId === toolCallId);
    for (let i = this.#open.length - 1; i >= 0; i--) if (this.#open[i]!.text === text && this.#open[i]!.toolCallId === undefined) return this.#open[i];
    for (let i = this.#open.length - 1; i >= 0; i--) if (this.#open[i]!.toolCallId === undefined) return this.#open[i];
    return undefined;
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
    const tool = toolCallOf(message);
    const step = this.#findOpen(message.content, tool?.id);
    if (tool && !step) {
      // The end of a call whose start was not drawn (over MAX_TRACE_ENTRIES): a row of its own.
      this.#toolStart(message.content, tool, at);
      return this.#stepEnd(message, at);
    }
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
    const result = message.metadata?.result;
    if (tool && typeof result === 'string') step.row.append(toolResult(result, !success));
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
