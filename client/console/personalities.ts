/**
 * Personalities: the mounted ones (chat with one, edit its settings) and the zoo (`list_available_personalities`),
 * from which any personality can be mounted (`add_personality`).
 */
import { LollmsRequestError, type PersonalityInfo } from 'lollms-host/client';
import type { HostConnection } from './connection.js';
import { h, field, messageOf, replace } from './dom.js';
import { SettingsForm } from './settings-form.js';
import type { ConsoleState } from './state.js';

/** Draw at most this many zoo entries at once (a filter narrows the rest). */
const MAX_ZOO_ROWS = 300;

interface ZooEntry {
  path: string;
  info: PersonalityInfo;
}

export class PersonalitiesView {
  readonly element: HTMLElement;
  readonly settings: SettingsForm;
  readonly #conn: HostConnection;
  readonly #state: ConsoleState;
  readonly #mounted: HTMLElement;
  readonly #zoo: HTMLElement;
  readonly #filter: HTMLInputElement;
  readonly #status: HTMLElement;
  #entries: ZooEntry[] = [];
  /** The mounted paths, in id order (`GET /list_mounted_personalities`), to mark the zoo's mounted entries. */
  #mountedPaths: string[] = [];
  /** Open the chat with a personality (wired by the app). */
  onChat: ((id: number) => void) | undefined;

  constructor(conn: HostConnection, state: ConsoleState) {
    this.#conn = conn;
    this.#state = state;
    this.settings = new SettingsForm(conn);
    this.#mounted = h('ul', { class: 'mounted-list' });
    this.#zoo = h('div', { class: 'zoo' });
    this.#status = h('p', { class: 'form-status', role: 'status' });
    this.#filter = h('input', { type: 'search', placeholder: 'name, category, author…', oninput: () => this.#renderZoo() });
    this.element = h(
      'div',
      { class: 'personalities' },
      h('section', { 'aria-labelledby': 'mounted-title' }, h('h2', { id: 'mounted-title' }, 'Mounted personalities'), this.#mounted),
      this.settings.element,
      h(
        'section',
        { 'aria-labelledby': 'zoo-title' },
        h('h2', { id: 'zoo-title' }, 'Zoo'),
        h('div', { class: 'zoo-tools' }, field('Filter', this.#filter), h('button', { type: 'button', onclick: () => void this.refresh() }, 'Refresh')),
        this.#status,
        this.#zoo,
      ),
    );
    state.on('personalities', () => this.#renderMounted());
  }

  /** Reload the mounted list and the zoo. */
  async refresh(): Promise<void> {
    await Promise.all([this.refreshMounted(), this.#loadZoo()]);
  }

  /** Reload the mounted list (into the shared state). */
  async refreshMounted(): Promise<void> {
    try {
      const [{ personalities }, paths] = await Promise.all([
        this.#conn.control.listActivePersonalities(),
        this.#conn.getJson<string[]>('/list_mounted_personalities').catch(() => undefined),
      ]);
      this.#mountedPaths = Array.isArray(paths?.body) ? paths.body : [];
      this.#state.setPersonalities(personalities);
      this.#renderZoo();
    } catch (error) {
      replace(this.#mounted, h('li', { class: 'error-text' }, messageOf(error)));
    }
  }

  /** The id of a zoo entry when it is mounted (by its three-level path, or the two-level one). */
  #mountedId(entry: ZooEntry): number | undefined {
    const twoLevel = entry.path.split('/').slice(1).join('/');
    const id = this.#mountedPaths.findIndex((p) => p === entry.path || p === twoLevel);
    return id >= 0 ? id : undefined;
  }

  async #loadZoo(): Promise<void> {
    this.#status.textContent = 'loading the zoo…';
    try {
      const { personalities } = await this.#conn.control.listPersonalities();
      const entries: ZooEntry[] = [];
      for (const [language, categories] of Object.entries(personalities)) {
        for (const [category, list] of Object.entries(categories)) {
          for (const info of list) entries.push({ path: `${language}/${category}/${info.folder}`, info });
        }
      }
      this.#entries = entries;
      this.#status.textContent = `${entries.length} personalities in the zoo.`;
    } catch (error) {
      this.#status.textContent = `Cannot list the zoo: ${messageOf(error)}`;
    }
    this.#renderZoo();
  }

  async #mount(entry: ZooEntry, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    this.#status.textContent = `mounting ${entry.path}…`;
    try {
      const { id, name } = await this.#conn.control.addPersonality(entry.path);
      this.#status.textContent = `Mounted ${name} as personality ${id}.`;
      await this.refreshMounted();
    } catch (error) {
      this.#status.textContent = `Cannot mount ${entry.path}: ${error instanceof LollmsRequestError ? error.serverMessage : messageOf(error)}`;
    } finally {
      button.disabled = false;
    }
  }

  #renderMounted(): void {
    const list = this.#state.personalities;
    if (list.length === 0) {
      replace(this.#mounted, h('li', { class: 'hint' }, 'None mounted: mount one from the zoo below.'));
      return;
    }
    replace(
      this.#mounted,
      list.map((p) =>
        h(
          'li',
          { 'data-id': p.id },
          h('span', { class: 'id' }, String(p.id)),
          ' ',
          h('span', { class: 'name' }, p.name),
          ' ',
          h('button', { type: 'button', onclick: () => this.onChat?.(p.id), 'aria-label': `Chat with ${p.name}` }, 'Chat'),
          h('button', { type: 'button', onclick: () => void this.settings.load(p.id, p.name), 'aria-label': `Settings of ${p.name}` }, 'Settings'),
        ),
      ),
    );
  }

  #renderZoo(): void {
    const words = this.#filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const matches = this.#entries.filter((e) => {
      const text = `${e.path} ${e.info.name} ${e.info.description} ${e.info.author}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
    const shown = matches.slice(0, MAX_ZOO_ROWS);
    replace(
      this.#zoo,
      h(
        'ul',
        { class: 'zoo-list' },
        shown.map((entry) => {
          const id = this.#mountedId(entry);
          const button =
            id === undefined
              ? h('button', { type: 'button', 'aria-label': `Mount ${entry.info.name} (${entry.path})` }, 'Mount')
              : h('button', { type: 'button', 'aria-label': `Chat with ${entry.info.name} (mounted as ${id})` }, 'Chat');
          button.addEventListener('click', () => (id === undefined ? void this.#mount(entry, button) : this.onChat?.(id)));
          return h(
            'li',
            { class: 'zoo-entry', 'data-path': entry.path },
            entry.info.avatar ? h('img', { src: this.#conn.assetUrl(entry.info.avatar), alt: '', width: 40, height: 40, loading: 'lazy' }) : h('span', { class: 'avatar-placeholder', 'aria-hidden': 'true' }),
            h(
              'div',
              { class: 'zoo-text' },
              h('strong', {}, entry.info.name),
              ' ',
              h('code', {}, entry.path),
              entry.info.has_scripts ? h('span', { class: 'tag' }, 'processor') : null,
              id !== undefined ? h('span', { class: 'tag' }, `mounted as ${id}`) : null,
              h('p', { class: 'hint' }, `${entry.info.author} · v${entry.info.version}${entry.info.description ? ` · ${entry.info.description}` : ''}`),
            ),
            button,
          );
        }),
      ),
      matches.length > shown.length ? h('p', { class: 'hint' }, `${matches.length - shown.length} more: narrow the filter.`) : null,
    );
  }
}
