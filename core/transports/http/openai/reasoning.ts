/**
 * What a client of the OpenAI API sees of a workflow besides its answer: the text that is not the answer
 * (drafts: a workflow's streamed `ctx.generate`, text `processModelOutput` rewrites, a thinking model's
 * reasoning) and the workflow's messages (steps, progress, info, warnings, JSON...) become `reasoning_content`,
 * which chat UIs show as "thinking"; each message also travels whole in the `lollms_message` extension field.
 * This module renders messages to reasoning lines and keeps a response's reasoning text.
 */
import { MSG_TYPE } from '../../../../plugin-api/index.js';
import type { WorkflowMessage } from '../../../generation/types.js';

/** The `lollms_message` extension field: a workflow message as the socket's `generation_message` carries it. */
export interface WireWorkflowMessage {
  /** The lollms `MSG_TYPE` number. */
  type: number;
  /** Its `MSG_TYPE_*` name. */
  type_name: string;
  content: string;
  metadata: Record<string, unknown>;
}

export function wireMessage(message: WorkflowMessage): WireWorkflowMessage {
  return { type: message.type, type_name: message.typeName, content: message.content, metadata: message.metadata };
}

/**
 * The reasoning line of a message, or undefined for the types that only travel in the extension field (the
 * full answer, UI, references, message boundaries: they are not the workflow's thinking).
 */
export function reasoningLine(message: WorkflowMessage): string | undefined {
  const { content, metadata } = message;
  switch (message.type) {
    case MSG_TYPE.MSG_TYPE_STEP_START:
      return `${content}…\n`;
    case MSG_TYPE.MSG_TYPE_STEP:
      return `${content}\n`;
    case MSG_TYPE.MSG_TYPE_STEP_PROGRESS:
      return typeof metadata['progress'] === 'number' ? `${content} (${metadata['progress']}%)\n` : `${content}\n`;
    case MSG_TYPE.MSG_TYPE_STEP_END:
      return `${content}: ${metadata['status'] === false ? 'failed' : 'done'}\n`;
    case MSG_TYPE.MSG_TYPE_INFO:
      return `Info: ${content}\n`;
    case MSG_TYPE.MSG_TYPE_WARNING:
      return `Warning: ${content}\n`;
    case MSG_TYPE.MSG_TYPE_EXCEPTION:
      return `Error: ${content}\n`;
    case MSG_TYPE.MSG_TYPE_JSON_INFOS:
      return `\`\`\`json\n${content}\n\`\`\`\n`;
    case MSG_TYPE.MSG_TYPE_CODE:
      return `\`\`\`\n${content}\n\`\`\`\n`;
    default:
      return undefined;
  }
}

/**
 * The reasoning text of one response, piece by piece: drafts as they come, each message's line on a line of
 * its own. `add*` return the piece to send (possibly with a leading newline), and the pieces joined are `text`.
 */
export class ReasoningText {
  #pieces: string[] = [];
  #atLineStart = true;

  /** A draft piece, as is. */
  addDraft(text: string): string {
    return this.#push(text);
  }

  /** A message's line (undefined: none for this type), on a new line when drafts left one open. */
  addMessage(message: WorkflowMessage): string | undefined {
    const line = reasoningLine(message);
    if (line === undefined) return undefined;
    return this.#push(this.#atLineStart ? line : `\n${line}`);
  }

  /** Everything sent so far. */
  get text(): string {
    return this.#pieces.join('');
  }

  #push(piece: string): string {
    if (piece !== '') {
      this.#pieces.push(piece);
      this.#atLineStart = piece.endsWith('\n');
    }
    return piece;
  }
}
