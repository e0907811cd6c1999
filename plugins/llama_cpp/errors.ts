/**
 * Coded errors of the llama_cpp binding. A binding may import nothing from the host's core, so these are
 * plain `Error`s with the same `code` values the host uses (`LH_ERR_*`), which is what the host matches on.
 */
export type BindingErrorCode =
  | 'LH_ERR_MODEL_NOT_FOUND'
  | 'LH_ERR_MODEL_CORRUPT'
  | 'LH_ERR_MODEL_LOAD'
  | 'LH_ERR_CANCELLED'
  | 'LH_ERR_MODEL_DISPOSED'
  | 'LH_ERR_EMBEDDING_UNSUPPORTED'
  | 'LH_ERR_GENERATE'
  | 'LH_ERR_BAD_TOKEN'
  /** A malformed chat request (messages, tools, tool choice) or an unsupported combination of options. */
  | 'LH_ERR_BAD_REQUEST'
  /** The rendered chat does not fit in the context. */
  | 'LH_ERR_CONTEXT_OVERFLOW'
  | 'LH_ERR_SCHEMA_TOO_LARGE'
  | 'LH_ERR_SCHEMA_INVALID'
  | 'LH_ERR_GRAMMAR_TOO_LARGE'
  | 'LH_ERR_GRAMMAR_INVALID'
  | 'LH_ERR_FORMAT_INVALID';

export class BindingError extends Error {
  readonly code: BindingErrorCode;

  constructor(code: BindingErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BindingError';
    this.code = code;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
