/**
 * Models of the active binding: the installed files (select one to load it), the catalogue (`models.yaml`, via
 * `list_available_models`), and installs (from the catalogue or any URL) with a progress bar and a cancel.
 */
import { CanceledError, LollmsRequestError, type AvailableModel, type InstallProgress } from 'lollms-host/client';
import type { HostConnection } from './connection.js';
import { h, field, formatBytes, messageOf, replace } from './dom.js';
import { TEST_MODEL_NAME, TEST_MODEL_WARNING, type ConsoleState } from './state.js';

/** What to install: a catalogue file name, or a URL (with an optional name and checksum). */
type InstallRequest = { filename: string } | { url: string; filename?: string; sha256?: string };

const errorText = (error: unknown) => (error instanceof LollmsRequestError ? error.serverMessage : messageOf(error));

export class ModelsView {
  readonly element: HTMLElement;
  readonly #conn: HostConnection;
  readonly #state: ConsoleState;
  readonly #warning: HTMLElement;
  readonly #installed: HTMLElement;
  readonly #catalogue: HTMLElement;
  readonly #install: HTMLElement;
  readonly #selectStatus: HTMLElement;
  #installing: AbortController | undefined;
  /** The installed names last listed (redrawn when the loaded model changes). */
  #names: string[] | undefined;
  /** Called after a model was selected or installed (the status view refreshes). */
  onChange: (() => void) | undefined;

  constructor(conn: HostConnection, state: ConsoleState) {
    this.#conn = conn;
    this.#state = state;
    this.#warning = h('p', { class: 'warning test-model-warning', role: 'note', hidden: true });
    this.#installed = h('div', {});
    this.#catalogue = h('div', {});
    this.#install = h('div', { class: 'install-progress' });
    this.#selectStatus = h('p', { class: 'form-status', role: 'status' });

    const url = h('input', { type: 'url', required: true, placeholder: 'https://…/model.gguf', maxlength: 4096 });
    const filename = h('input', { type: 'text', placeholder: 'from the URL', maxlength: 255 });
    const sha256 = h('input', { type: 'text', placeholder: 'optional', pattern: '[0-9a-fA-F]{64}', maxlength: 64, spellcheck: 'false' });
    const urlForm = h(
      'form',
      {
        class: 'install-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          if (!url.reportValidity() || !sha256.reportValidity()) return;
          void this.install({
            url: url.value.trim(),
            ...(filename.value.trim() ? { filename: filename.value.trim() } : {}),
            ...(sha256.value.trim() ? { sha256: sha256.value.trim().toLowerCase() } : {}),
          });
        },
      },
      field('Model URL', url),
      field('Save as', filename, 'A plain file name; default: the last part of the URL'),
      field('SHA-256', sha256, 'The install fails when the file does not match'),
      h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Install from URL')),
    );

    this.element = h(
      'div',
      { class: 'models' },
      this.#warning,
      h('section', { 'aria-labelledby': 'installed-title' }, h('h2', { id: 'installed-title' }, 'Installed models'), this.#selectStatus, this.#installed),
      h('section', { 'aria-labelledby': 'install-title' }, h('h2', { id: 'install-title' }, 'Install'), this.#install, urlForm),
      h('section', { 'aria-labelledby': 'catalogue-title' }, h('h2', { id: 'catalogue-title' }, 'Catalogue'), this.#catalogue),
    );
    state.on('model', () => {
      this.#renderWarning();
      if (this.#names) this.#renderInstalled(this.#names);
    });
    this.#renderWarning();
  }

  /** Reload the installed list and the catalogue. */
  async refresh(): Promise<void> {
    const [installed, catalogue] = await Promise.allSettled([this.#conn.getJson<string[]>('/list_models'), this.#conn.control.listModels()]);
    const names = installed.status === 'fulfilled' && Array.isArray(installed.value.body) ? installed.value.body : undefined;
    if (names) this.#renderInstalled(names);
    else replace(this.#installed, h('p', { class: 'error-text' }, installed.status === 'rejected' ? messageOf(installed.reason) : `cannot list the models (HTTP ${installed.value.status})`));
    if (catalogue.status === 'fulfilled') this.#renderCatalogue(catalogue.value.available_models);
    else replace(this.#catalogue, h('p', { class: 'error-text' }, errorText(catalogue.reason)));
  }

  /** Load `name` (`select_model`), with its load progress. */
  async select(name: string): Promise<void> {
    const bar = h('progress', { max: 1, value: 0, 'aria-label': `loading ${name}` });
    replace(this.#selectStatus, `loading ${name}… `, bar);
    try {
      await this.#conn.control.selectModel(name, { onProgress: ({ progress }) => (bar.value = progress) });
      replace(this.#selectStatus, `Loaded ${name}.`);
      this.#state.setModel(name, name === TEST_MODEL_NAME);
    } catch (error) {
      replace(this.#selectStatus, h('span', { class: 'error-text' }, `Cannot load ${name}: ${errorText(error)}`));
    }
    this.onChange?.();
    await this.refresh();
  }

  /** Install a model, showing its progress; one at a time. */
  async install(request: InstallRequest): Promise<void> {
    if (this.#installing) return;
    const controller = new AbortController();
    this.#installing = controller;
    const label = 'url' in request ? (request.filename ?? request.url) : request.filename;
    const bar = h('progress', { 'aria-label': `install of ${label}` });
    const numbers = h('span', { class: 'install-numbers' }, 'starting…');
    const cancel = h('button', { type: 'button', onclick: () => controller.abort() }, 'Cancel install');
    const status = h('p', { class: 'form-status', role: 'status' });
    replace(this.#install, h('p', {}, 'Installing ', h('code', {}, label)), h('div', { class: 'progress-row' }, bar, numbers, cancel), status);
    const onProgress = (p: InstallProgress) => {
      if (p.progress !== null) {
        bar.max = 1;
        bar.value = p.progress;
      }
      numbers.textContent = `${formatBytes(p.bytes)} of ${p.total !== null ? formatBytes(p.total) : '?'}${p.progress !== null ? ` (${Math.floor(p.progress * 100)}%)` : ''}`;
      this.#install.dataset.bytes = String(p.bytes);
    };
    try {
      const done = await this.#conn.control.installModel(request, { signal: controller.signal, onProgress, timeoutMs: 120_000 });
      bar.max = 1;
      bar.value = 1;
      status.textContent = `Installed ${done.filename}.`;
      this.#install.dataset.state = 'installed';
    } catch (error) {
      if (error instanceof CanceledError) {
        status.textContent = 'Install cancelled. The partial download is kept: installing again resumes it.';
        this.#install.dataset.state = 'cancelled';
      } else {
        status.textContent = `Install failed: ${errorText(error)}`;
        status.classList.add('error-text');
        this.#install.dataset.state = 'failed';
      }
    } finally {
      cancel.disabled = true;
      this.#installing = undefined;
    }
    this.onChange?.();
    await this.refresh();
  }

  #renderWarning(): void {
    this.#warning.hidden = !this.#state.testModel;
    this.#warning.textContent = TEST_MODEL_WARNING;
  }

  #renderInstalled(names: string[]): void {
    this.#names = names;
    if (names.length === 0) {
      replace(this.#installed, h('p', { class: 'hint' }, 'None: install one below.'));
      return;
    }
    replace(
      this.#installed,
      h(
        'ul',
        { class: 'installed-list' },
        names.map((name) => {
          const current = name === this.#state.model;
          return h(
            'li',
            { 'data-model': name, class: current ? 'current' : undefined },
            h('code', {}, name),
            name === TEST_MODEL_NAME ? h('span', { class: 'tag tag-warning' }, 'test model') : null,
            current ? h('span', { class: 'tag' }, 'loaded') : h('button', { type: 'button', onclick: () => void this.select(name), 'aria-label': `Select ${name}` }, 'Select'),
          );
        }),
      ),
    );
  }

  #renderCatalogue(models: AvailableModel[]): void {
    if (models.length === 0) {
      replace(this.#catalogue, h('p', { class: 'hint' }, 'The active binding lists no models.'));
      return;
    }
    replace(
      this.#catalogue,
      h(
        'table',
        { class: 'catalogue' },
        h('caption', { class: 'visually-hidden' }, 'Models of the active binding'),
        h('thead', {}, h('tr', {}, ['Model', 'Size', 'License', 'Owner', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          models.map((m) =>
            h(
              'tr',
              { 'data-model': m.title },
              h('td', {}, h('code', {}, m.title), m.description ? h('p', { class: 'hint' }, m.description) : null),
              h('td', {}, m.filesize > 0 ? formatBytes(m.filesize) : '?'),
              h('td', {}, m.license),
              h('td', {}, m.owner),
              h(
                'td',
                {},
                m.isInstalled
                  ? h('button', { type: 'button', onclick: () => void this.select(m.title), 'aria-label': `Select ${m.title}` }, 'Select')
                  : h('button', { type: 'button', onclick: () => void this.install({ filename: m.title }), 'aria-label': `Install ${m.title}` }, 'Install'),
              ),
            ),
          ),
        ),
      ),
    );
  }
}
