/**
 * What the host is doing, from `GET /status` (PLAN.md "Wire contracts"): the model, slots and queue, the speed of
 * recent generations, the mounted personalities and the last plugin reloads. A host without that route (404)
 * still shows what `/health`, `/get_server_ifos` and the socket tell, and the reloads seen since the page opened.
 */
import type { HostConnection } from './connection.js';
import { h, messageOf, replace } from './dom.js';
import { TEST_MODEL_NAME, TEST_MODEL_WARNING, type ConsoleState } from './state.js';
import type { PluginError, PluginReloaded, StatusReport } from './wire.js';

/** Reloads remembered from the broadcasts, for hosts without `/status`. */
const MAX_SEEN_RELOADS = 20;

type Reload = StatusReport['reloads'][number];

const when = (at: string | number) => {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toLocaleTimeString();
};

/** A `<dl>` of label/value pairs. */
function facts(rows: Array<[string, string | Node]>): HTMLDListElement {
  return h('dl', { class: 'facts' }, rows.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]));
}

export class StatusView {
  readonly element: HTMLElement;
  readonly #conn: HostConnection;
  readonly #state: ConsoleState;
  readonly #body: HTMLElement;
  readonly #note: HTMLElement;
  readonly #seenReloads: Reload[] = [];
  /** The overview section the server rendered into the page, kept up to date. */
  readonly #overview: HTMLElement | null;
  #refreshing: Promise<void> | undefined;
  /** The host answered 404 to `/status` once: do not ask again. */
  #noStatusRoute = false;

  constructor(conn: HostConnection, state: ConsoleState, overview: HTMLElement | null) {
    this.#conn = conn;
    this.#state = state;
    this.#overview = overview;
    this.#note = h('p', { class: 'hint', role: 'status' });
    this.#body = h('div', {});
    this.element = h(
      'section',
      { class: 'status', 'aria-labelledby': 'status-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'status-title' }, 'Status'), h('button', { type: 'button', onclick: () => void this.refresh() }, 'Refresh')),
      this.#note,
      this.#body,
    );
  }

  /** Remember a reload seen on the socket (for hosts without `/status`). */
  sawReload(event: PluginReloaded | PluginError, ok: boolean): void {
    this.#seenReloads.unshift({ kind: event.kind, name: event.name, ok, at: Date.now(), ...(!ok ? { error: (event as PluginError).error.message } : {}) });
    this.#seenReloads.length = Math.min(this.#seenReloads.length, MAX_SEEN_RELOADS);
  }

  /** Read the host's state again (one read at a time). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    try {
      const status = this.#noStatusRoute ? undefined : await this.#conn.getJson<StatusReport>('/status');
      if (status?.status === 200 && status.body) {
        this.#note.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
        this.#render(status.body);
        return;
      }
      if (status?.status === 401) {
        this.#note.textContent = 'The host needs the API key: enter it with the API key button.';
        return;
      }
      if (status?.status === 404) this.#noStatusRoute = true;
      await this.#fallback();
    } catch (error) {
      this.#note.textContent = `Cannot read the status: ${messageOf(error)}`;
    }
  }

  /** A host without `/status`: what the older routes and the socket tell. */
  async #fallback(): Promise<void> {
    const [health, infos, mounted] = await Promise.all([
      this.#conn.getJson<{ status: string; model: string | null; binding: string | null }>('/health'),
      this.#conn.getJson<{ lollms_version?: string }>('/get_server_ifos'),
      this.#conn.control.listActivePersonalities().catch(() => ({ personalities: [] as string[] })),
    ]);
    const loading = health.body?.status === 'loading';
    const model = health.body?.model ?? null;
    this.#note.textContent = 'This host has no GET /status: slots, queue and generation speeds are not shown.';
    this.#render({
      version: infos.body?.lollms_version ?? '?',
      binding: health.body?.binding ?? null,
      model: loading ? null : model,
      loading: loading ? model : null,
      test_model: !loading && model === TEST_MODEL_NAME,
      personalities: mounted.personalities.map((name, id) => ({ id, path: '', name })),
      reloads: this.#seenReloads,
    });
  }

  /** Draw a report; a field the host did not send is left out (a host may be older than the contract). */
  #render(s: Partial<StatusReport>): void {
    const loading = typeof s.loading === 'string' ? s.loading : s.loading ? 'a model' : null;
    this.#state.setModel(s.model ?? null, Boolean(s.test_model));
    if (Array.isArray(s.personalities)) this.#state.setPersonalities(s.personalities.map((p) => p.name));
    const model = loading ? `loading ${loading}` : (s.model ?? 'none');
    const rows: Array<[string, string | Node]> = [
      ['Version', s.version ?? '?'],
      ['Binding', s.binding ?? 'none'],
      ['Model', model],
    ];
    if (s.slots) rows.push(['Slots in use', `${s.slots.busy} of ${s.slots.total}`]);
    if (s.queue) rows.push(['Queue', `${s.queue.depth} waiting`]);
    const generations = Array.isArray(s.recent_generations) ? s.recent_generations : undefined;
    const reloads = Array.isArray(s.reloads) ? s.reloads : this.#seenReloads;
    replace(
      this.#body,
      s.test_model ? h('p', { class: 'warning', role: 'note' }, TEST_MODEL_WARNING) : null,
      facts(rows),
      generations
        ? [
            h('h3', {}, 'Recent generations'),
            generations.length === 0
              ? h('p', { class: 'hint' }, 'None yet.')
              : h(
                  'table',
                  { class: 'generations' },
                  h('thead', {}, h('tr', {}, ['Mode', 'Personality', 'Prompt tokens', 'Answer tokens', 'Tokens/s', 'Outcome', 'Ended'].map((t) => h('th', { scope: 'col' }, t)))),
                  h(
                    'tbody',
                    {},
                    generations.map((g) =>
                      h(
                        'tr',
                        {},
                        h('td', {}, g.mode),
                        h('td', {}, g.personality ?? ''),
                        h('td', { class: 'num' }, String(g.prompt_tokens)),
                        h('td', { class: 'num' }, String(g.completion_tokens)),
                        h('td', { class: 'num' }, Number.isFinite(g.tokens_per_s) ? g.tokens_per_s.toFixed(1) : '?'),
                        h('td', {}, g.outcome),
                        h('td', {}, when(g.ended_at)),
                      ),
                    ),
                  ),
                ),
          ]
        : null,
      h('h3', {}, 'Mounted personalities'),
      Array.isArray(s.personalities) && s.personalities.length > 0
        ? h('ul', {}, s.personalities.map((p) => h('li', {}, h('span', { class: 'id' }, String(p.id)), ` ${p.name} `, p.path ? h('code', {}, p.path) : null, p.error ? h('span', { class: 'error-text' }, ` failed: ${p.error}`) : null)))
        : h('p', { class: 'hint' }, 'none'),
      h('h3', {}, 'Last plugin reloads'),
      reloads.length > 0
        ? h('ul', { class: 'reloads' }, reloads.map((r) => h('li', { class: r.ok ? 'ok' : 'error-text' }, `${when(r.at)} ${r.kind} ${r.name}: ${r.ok ? 'reloaded' : `failed${r.error ? `: ${r.error}` : ''}`}`)))
        : h('p', { class: 'hint' }, 'none since the page opened'),
    );
    this.#updateOverview(s, model);
  }

  /** Keep the server-rendered overview in step with what the status says. */
  #updateOverview(s: Partial<StatusReport>, model: string): void {
    const overview = this.#overview;
    if (!overview) return;
    // Served without the key, the overview had nothing to show: give it the fields now that the key works.
    overview.querySelector('.overview-locked')?.replaceWith(
      h('dl', { class: 'overview-facts' }, [['Version', 'version'], ['Binding', 'binding'], ['Model', 'model']].map(([label, name]) => [h('dt', {}, label), h('dd', { 'data-field': name })])),
      h('p', { class: 'warning', 'data-field': 'test-model-warning', role: 'note', hidden: true }, TEST_MODEL_WARNING),
      h('h3', {}, 'Mounted personalities'),
      h('p', { 'data-field': 'personalities' }, 'none'),
    );
    const set = (name: string, value: string) => {
      const el = overview.querySelector(`[data-field="${name}"]`);
      if (el) el.textContent = value;
    };
    set('version', s.version ?? '?');
    set('binding', s.binding ?? 'none');
    set('model', model);
    const warning = overview.querySelector('[data-field="test-model-warning"]');
    if (warning instanceof HTMLElement) warning.hidden = !s.test_model;
    const list = overview.querySelector('[data-field="personalities"]');
    if (list && Array.isArray(s.personalities)) {
      const items = s.personalities.map((p) => h('li', {}, h('span', { class: 'id' }, String(p.id)), ` ${p.name}`));
      list.replaceWith(items.length > 0 ? h('ul', { 'data-field': 'personalities' }, items) : h('p', { 'data-field': 'personalities' }, 'none'));
    }
  }
}
