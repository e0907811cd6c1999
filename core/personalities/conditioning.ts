/**
 * `{{date}}`, `{{time}}` and `{{date_time}}` in a personality's conditioning and welcome message, filled at
 * access time as the original did from `2cfebbb` on (lollms-reference §4.2). The formats are Python's
 * `%A, %B %d, %Y`, `%H:%M:%S` and `%A, %B %d, %Y %I:%M:%S %p` with English names (the C locale), in local time.
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
] as const;

const pad = (n: number) => String(n).padStart(2, '0');

/** `%A, %B %d, %Y`, e.g. `Wednesday, July 19, 2023`. */
export function formatDate(now: Date): string {
  return `${DAYS[now.getDay()]}, ${MONTHS[now.getMonth()]} ${pad(now.getDate())}, ${now.getFullYear()}`;
}

/** `%H:%M:%S`, e.g. `07:05:09`. */
export function formatTime(now: Date): string {
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
}

/** `%A, %B %d, %Y %I:%M:%S %p`, e.g. `Wednesday, July 19, 2023 07:05:09 PM`. */
export function formatDateTime(now: Date): string {
  const hours12 = now.getHours() % 12 === 0 ? 12 : now.getHours() % 12;
  const ampm = now.getHours() < 12 ? 'AM' : 'PM';
  return `${formatDate(now)} ${pad(hours12)}:${pad(now.getMinutes())}:${pad(now.getSeconds())} ${ampm}`;
}

const PLACEHOLDER = /\{\{(date|time|date_time)\}\}/g;

/** Fill the three placeholders; any other `{{key}}` is left as is, as the original's `str.replace` did. */
export function fillPlaceholders(text: string, now: Date = new Date()): string {
  if (!text.includes('{{')) return text;
  return text.replace(PLACEHOLDER, (_, key: string) => (key === 'date' ? formatDate(now) : key === 'time' ? formatTime(now) : formatDateTime(now)));
}
