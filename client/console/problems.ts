/**
 * Plugin build problems, as Vite shows them:
 *
 * - `plugin_error` opens an overlay over the page: the plugin, the message, `file:line:column` and the code frame
 *   the host made (`error.frame`). It closes itself on the next `plugin_reloaded` of that plugin (the fixed save),
 *   or by hand (Esc, or its button); a badge in the header reopens it.
 * - `plugin_warning` (type errors and other non-fatal problems; the plugin still reloaded) is listed apart, in a
 *   panel that does not cover the page. An empty list for a plugin clears its warnings.
 *
 * The three events name a plugin by `kind` and `path` (its folder, relative to its plugins folder); its `name`
 * can differ between them (a plugin that failed to load is named after its folder).
 */
import type { PluginErrorEvent, PluginReloadedEvent, PluginWarning, PluginWarningEvent } from 'lollms-host/client';
import { h, replace } from './dom.js';

/** Keep at most this many plugins' problems (a host with many broken plugins must not grow the page forever). */
const MAX_PLUGINS = 50;
/** Show at most this many warnings of one plugin (the host sends at most 50, and a last one that counts the rest). */
const MAX_WARNINGS = 100;

/** `file:line:column`; empty when the problem has no file. */
export function location(item: { file?: string | undefined; line?: number | undefined; column?: number | undefined }): string {
  const file = item.file ?? '';
  if (!file) return '';
  return `${file}${item.line !== undefined ? `:${item.line}${item.column !== undefined ? `:${item.column}` : ''}` : ''}`;
}

/**
 * The error's own words. The host's message names the plugin and the place first
 * (`personality "Workflow Demo": scripts/processor.ts:45:16: Unexpected ";"`), which the overlay shows apart:
 * those prefixes are dropped, the rest is shown as the host sent it.
 */
export function ownMessage(event: Pick<PluginErrorEvent, 'kind' | 'name' | 'path' | 'error'>): string {
  let message = event.error.message;
  for (const plugin of [`${event.kind} "${event.name}": `, `${event.kind} ${event.name}: `, `${event.kind} ${event.path}: `]) {
    if (message.startsWith(plugin)) {
      message = message.slice(plugin.length);
      break;
    }
  }
  const where = location(event.error);
  // The place, as the host wrote it: relative to the plugin, or with the server's part of a path redacted.
  for (const place of where ? [`${where}: `, `<path>/${where}: `] : []) {
    if (message.startsWith(place)) return message.slice(place.length);
  }
  return message;
}

export class BuildProblems {
  /** The overlay (hidden while there is no error). */
  readonly overlay: HTMLElement;
  /** The warnings panel (hidden while there is no warning). */
  readonly warnings: HTMLElement;
  /** The header badge that reopens a dismissed overlay. */
  readonly badge: HTMLButtonElement;
  readonly #errors = new Map<string, PluginErrorEvent>();
  readonly #warnings = new Map<string, PluginWarningEvent>();
  readonly #overlayBody: HTMLElement;
  readonly #warningsBody: HTMLElement;
  readonly #warningsTitle: HTMLElement;
  #dismissed = false;

  constructor() {
    this.#overlayBody = h('div', { class: 'overlay-body' });
    const close = h('button', { type: 'button', class: 'overlay-close', onclick: () => this.dismiss() }, 'Hide (Esc)');
    this.overlay = h(
      'div',
      { class: 'error-overlay', hidden: true, role: 'alert', 'aria-labelledby': 'overlay-title' },
      h(
        'div',
        { class: 'overlay-window' },
        h('div', { class: 'overlay-head' }, h('h2', { id: 'overlay-title' }, 'Plugin build failed'), close),
        this.#overlayBody,
        h('p', { class: 'overlay-tip' }, 'The last good version keeps serving. Fix the file and save: this overlay closes itself when the plugin reloads.'),
      ),
    );
    this.badge = h('button', { type: 'button', class: 'problems-badge', hidden: true, onclick: () => this.reopen() });
    this.#warningsTitle = h('summary', {});
    this.#warningsBody = h('div', {});
    this.warnings = h('section', { class: 'warnings-panel', hidden: true, 'aria-label': 'Plugin warnings' }, h('details', {}, this.#warningsTitle, this.#warningsBody));
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.defaultPrevented && !this.overlay.hidden) this.dismiss();
    });
  }

  /** The plugins with an error, by key. */
  get errorCount(): number {
    return this.#errors.size;
  }

  /** `plugin_error`: show (or update) the plugin's error. */
  error(event: PluginErrorEvent): void {
    const key = `${event.kind}:${event.path}`;
    this.#errors.delete(key);
    this.#errors.set(key, event);
    while (this.#errors.size > MAX_PLUGINS) this.#errors.delete(this.#errors.keys().next().value!);
    this.#dismissed = false;
    this.#render();
  }

  /** `plugin_reloaded`: the plugin built again, its error is gone. */
  reloaded(event: PluginReloadedEvent): void {
    this.#errors.delete(`${event.kind}:${event.path}`);
    this.#render();
  }

  /** `plugin_warning`: replace the plugin's warnings (an empty list clears them). */
  warning(event: PluginWarningEvent): void {
    const key = `${event.kind}:${event.path}`;
    this.#warnings.delete(key);
    if (Array.isArray(event.warnings) && event.warnings.length > 0) this.#warnings.set(key, event);
    while (this.#warnings.size > MAX_PLUGINS) this.#warnings.delete(this.#warnings.keys().next().value!);
    this.#renderWarnings();
  }

  dismiss(): void {
    this.#dismissed = true;
    this.#render();
  }

  reopen(): void {
    this.#dismissed = false;
    this.#render();
  }

  #render(): void {
    const errors = [...this.#errors.values()];
    this.overlay.hidden = errors.length === 0 || this.#dismissed;
    this.badge.hidden = errors.length === 0 || !this.#dismissed;
    this.badge.textContent = `${errors.length} build ${errors.length === 1 ? 'error' : 'errors'}`;
    replace(
      this.#overlayBody,
      errors.reverse().map((e) => {
        const where = location(e.error);
        return h(
          'article',
          { class: 'overlay-error', 'data-plugin': `${e.kind}:${e.path}` },
          h('h3', {}, `${e.kind} `, h('code', {}, e.name)),
          h('p', { class: 'overlay-message' }, ownMessage(e)),
          where ? h('p', { class: 'overlay-location' }, h('code', { class: 'location' }, where)) : null,
          e.error.frame ? h('pre', { class: 'code-frame', tabindex: 0, 'aria-label': 'code frame' }, e.error.frame) : null,
        );
      }),
    );
  }

  #renderWarnings(): void {
    const plugins = [...this.#warnings.values()];
    const total = plugins.reduce((n, p) => n + p.warnings.length, 0);
    this.warnings.hidden = total === 0;
    this.#warningsTitle.textContent = `${total} plugin ${total === 1 ? 'warning' : 'warnings'} (the plugins still reloaded)`;
    replace(
      this.#warningsBody,
      plugins.map((p) =>
        h(
          'article',
          { class: 'plugin-warnings', 'data-plugin': `${p.kind}:${p.path}` },
          h('h3', {}, `${p.kind} `, h('code', {}, p.name)),
          h(
            'ul',
            {},
            p.warnings.slice(0, MAX_WARNINGS).map((w: PluginWarning) => {
              const where = location(w);
              return h('li', {}, where ? h('code', { class: 'location' }, where) : null, where ? ' ' : null, w.message, w.frame ? h('pre', { class: 'code-frame' }, w.frame) : null);
            }),
          ),
        ),
      ),
    );
  }
}
