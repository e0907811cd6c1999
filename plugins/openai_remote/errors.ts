/**
 * The binding's coded errors: `PluginError`s of the plugin API, whose codes the host keeps. Texts never carry
 * an API key, and name an endpoint by its short name.
 */
import { PluginError, type ErrorCode } from 'lollms-host/plugin-api';

export function remoteError(code: ErrorCode, message: string, cause?: unknown): PluginError {
  return new PluginError(code, message, cause === undefined ? {} : { cause });
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    // fetch() failures say "fetch failed" and keep the reason (ECONNREFUSED...) in `cause`.
    const cause = (error as { cause?: unknown }).cause;
    if (error.message === 'fetch failed' && cause instanceof Error) {
      const code = (cause as { code?: string }).code;
      return code ? `${code} (${cause.message})` : cause.message;
    }
    return error.message;
  }
  return String(error);
}

/** A text from an engine, cut to a length that fits a log line or an error message. */
export function clip(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
