/**
 * Durations as Ollama's `keep_alive` takes them (issue 18), for the config and the model residency.
 */

/** A duration as Ollama's `keep_alive` takes it: seconds as a number, or a string such as `"300ms"`, `"10s"`, `"5m"`, `"1h30m"`, `"-1"`. */
export type KeepAlive = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(-?)((?:\d+(?:\.\d+)?(?:ms|s|m|h))+)$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** `keep_alive` in ms (negative: forever), or undefined when the value is not a duration. */
export function keepAliveMs(value: KeepAlive): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? (value < 0 ? -1 : value * 1000) : undefined;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return keepAliveMs(Number(text));
  const match = DURATION.exec(text);
  if (!match) return undefined;
  let ms = 0;
  for (const [, amount, unit] of match[2]!.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit!]!;
  return match[1] === '-' ? -1 : ms;
}
