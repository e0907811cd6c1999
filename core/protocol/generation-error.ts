import { SandboxLoad, SandboxScript } from '../errors.js';
import { clientErrorText } from './client-error.js';
import type { GenerationError } from './payloads.js';

/** Codes whose errors carry a place that is relative to a personality folder, and a stack of the author's frames. */
const PLACED_CODES = new Set([SandboxScript.code, SandboxLoad.code]);

/**
 * The `generation_error` payload of a failed generation: the message, the error's code, and, for a processor
 * fault, where in the author's code it happened (`file` relative to the personality folder) with the author's
 * stack. Nothing else of the error (its host-side cause, an absolute path) goes out.
 */
export function generationErrorPayload(error: unknown): GenerationError {
  const payload: GenerationError = { error: clientErrorText(error) };
  const e = error as { code?: unknown; file?: unknown; line?: unknown; column?: unknown; cause?: unknown } | null | undefined;
  if (typeof e?.code === 'string') payload.code = e.code;
  if (typeof e?.code === 'string' && PLACED_CODES.has(e.code as typeof SandboxScript.code)) {
    if (typeof e.file === 'string') payload.file = e.file;
    if (typeof e.line === 'number') payload.line = e.line;
    if (typeof e.column === 'number') payload.column = e.column;
    const stack = (e.cause as { stack?: unknown } | undefined)?.stack;
    if (typeof stack === 'string' && stack.includes('\n    at ')) payload.stack = stack;
  }
  return payload;
}
