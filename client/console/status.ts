/**
 * What the host is doing, from `GET /status` (docs/protocol.md §5.10): the model, slots and queue, the speed of
 * recent generations, the mounted personalities and the last plugin reloads, newest first. Should that read fail
 * (a host older than the route answers 404), the tab shows what `/health`, `/get_server_ifos` and the socket tell,
 * and the reloads seen since the page opened.
 */
import type { StatusReport } from 'lollms-host';
import type { PluginErrorEvent, PluginReloadedEvent } from 'lollms-host/client';
import type { HostConnection } from './connection.js';
import { h, messageOf, replace } from './dom.js';
import { TEST_MODEL_NAME, TEST_MODEL_WARNING, type ConsoleState } from './state.js';

/** Reloads remembered from the broadcasts, for hosts without `/status`. */
const MAX_SEEN_RELOADS = 20;

type Reload = StatusReport['reloads'][number];
type RecentGeneration = StatusReport['recent_generations'][number];

const when = (at: string | number) => {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toLocaleTimeString();
};

/** A `<dl>` of label/value pairs. */
function facts(rows: Array<[string, string | Node]>): HTMLDListElement {
  return h('dl', { class: 'facts' }, rows.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]));
}

/** The columns of the recent generations, with what each shows of one. */
const GENERATION_COLUMNS: Array<{ title: string; numeric?: boolean; nowrap?: boolean; cell(g: RecentGeneration): string }> = [
  { title: 'Ended', nowrap: true, cell: (g) => when(g.ended_at) },
  { title: 'Mode', cell: (g) => g.mode },
  { title: 'Personality', cell: (g) => g.personality ?? '' },
  { title: 'Transport', cell: (g) => g.transport ?? '' },
  { title: 'Prompt tokens', numeric: true, cell: (g) => String(g.prompt_tokens) },
  { title: 'Answer tokens', numeric: true, cell: (g) => String(g.completion_tokens) },
  { title: 'Tokens/s', numeric: true, cell: (g) => (typeof g.tokens_per_s === 'number' && Number.isFinite(g.tokens_per_s) ? g.tokens_per_s.toFixed(1) : '—') },
  { title: 'Outcome', cell: (g) => `${g.outcome}${g.error ? ` (${g.error})` : ''}` },
];

/** The recent generations, newest first; on a narrow screen each row stacks its cells with their titles. */
function generationsTable(generations: readonly RecentGeneration[]): HTMLTableElement {
  return h(
    'table',
    { class: 'generations stacking' },
    h('caption', { class: 'visually-hidden' }, 'Recent generations, newest first'),
    h('thead', {}, h('tr', {}, GENERATION_COLUMNS.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : undefined }, c.title)))),
    h(
      'tbody',
      {},
      [...generations].reverse().map((g) =>
        h('tr', {}, GENERATION_COLUMNS.map((c) => h('td', { 'data-label': c.title, class: c.numeric ? 'num' : c.nowrap ? 'nowrap' : undefined }, c.cell(g)))),
      ),
    ),
  );
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

  /** Remember a reload seen on the socket (for hosts without `/status`), oldest first as `/status` lists them. */
  sawReload(event: PluginReloadedEvent | PluginErrorEvent): void {
    const error = 'error' in event ? { error: event.error.message } : {};
    this.#seenReloads.push({ kind: event.kind, name: event.name, ok: !('error' in event), at: new Date().toISOString(), ...error });
    if (this.#seenReloads.length > MAX_SEEN_RELOADS) this.#seenReloads.splice(0, this.#seenReloads.length - MAX_SEEN_RELOADS);
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
      await this.#fallback(this.#noStatusRoute ? 'This host has no GET /status' : `GET /status answered ${status?.status}`);
    } catch (error) {
      this.#note.textContent = `Cannot read the status: ${messageOf(error)}`;
    }
  }

  /** A host without `/status`: what the older routes and the socket tell. */
  async #fallback(why: string): Promise<void> {
    const [health, infos, mounted] = await Promise.all([
      this.#conn.getJson<{ status: string; model: string | null; binding: string | null }>('/health'),
      this.#conn.getJson<{ lollms_version?: string }>('/get_server_ifos'),
      this.#conn.control.listActivePersonalities().catch(() => ({ personalities: [] as string[] })),
    ]);
    const loading = health.body?.status === 'loading';
    const model = health.body?.model ?? null;
    this.#note.textContent = `${why}: slots, queue and generation speeds are not shown.`;
    this.#render({
      version: infos.body?.lollms_version ?? '?',
      binding: health.body?.binding ?? null,
      model: loading ? null : model,
      loading: loading ? model : null,
      test_model: !loading && model === TEST_MODEL_NAME,
      personalities: mounted.personalities.map((name, id) => ({ id, path: '', name })),
    });
  }

  /** Draw a report; a field the host did not send is left out (a host may be older than the contract). */
  #render(s: Partial<StatusReport>): void {
    const loading = s.loading ?? null;
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
    // Without /status: the reloads this page saw on the socket.
    const reloads = Array.isArray(s.reloads) ? s.reloads : this.#seenReloads;
    replace(
      this.#body,
      s.test_model ? h('p', { class: 'warning', role: 'note' }, TEST_MODEL_WARNING) : null,
      facts(rows),
      generations
        ? [h('h3', {}, 'Recent generations'), generations.length === 0 ? h('p', { class: 'hint' }, 'None yet.') : generationsTable(generations)]
        : null,
      h('h3', {}, 'Mounted personalities'),
      Array.isArray(s.personalities) && s.personalities.length > 0
        ? h('ul', {}, s.personalities.map((p) => h('li', {}, h('span', { class: 'id' }, String(p.id)), ` ${p.name} `, p.path ? h('code', {}, p.path) : null, p.error ? h('span', { class: 'error-text' }, ` failed: ${p.error}`) : null)))
        : h('p', { class: 'hint' }, 'none'),
      h('h3', {}, 'Last plugin reloads'),
      reloads.length > 0
        ? h('ul', { class: 'reloads' }, [...reloads].reverse().map((r) => h('li', { class: r.ok ? 'ok' : 'error-text' }, `${when(r.at)} ${r.kind} ${r.name}: ${r.ok ? 'reloaded' : `failed${r.error ? `: ${r.error}` : ''}`}`)))
        : h('p', { class: 'hint' }, Array.isArray(s.reloads) ? 'none since the host started' : 'none since the page opened'),
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
      // As the server rendered them (console-assets.ts renderOverview).
      const items = s.personalities.map((p) =>
        h('li', {}, h('span', { class: 'id' }, String(p.id)), ` ${p.name} `, p.path ? h('code', {}, p.path) : null, p.error ? h('span', { class: 'error-text' }, ` (failed: ${p.error})`) : null),
      );
      list.replaceWith(items.length > 0 ? h('ul', { 'data-field': 'personalities' }, items) : h('p', { 'data-field': 'personalities' }, 'none'));
    }
  }
}
