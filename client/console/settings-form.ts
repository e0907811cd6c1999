/**
 * A mounted personality's processor settings as a form made from its settings template, checked in the browser
 * with the host's own rules (core/personalities/setting-rules.ts) and saved with `set_personality_settings`.
 * The host checks again; its refusal is shown on the form (and on the field it names).
 */
import { LollmsRequestError } from 'lollms-host/client';
import type { SettingTemplate } from '../../plugin-api/processor.js';
import { settingProblem } from '../../core/personalities/setting-rules.js';
import type { HostConnection } from './connection.js';
import { h, field, messageOf, replace, uid } from './dom.js';

/** Longest text a `str` or `list` field accepts (the host bounds payloads too). */
const MAX_TEXT = 100_000;

interface SettingField {
  name: string;
  entry: SettingTemplate;
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  error: HTMLElement;
}

const isTemplateEntry = (v: unknown): v is SettingTemplate =>
  typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';

/** The value a field holds, as the template's type; a string when it cannot be read as one (the rules say why). */
function readField(f: SettingField): unknown {
  const { entry, control } = f;
  switch (entry.type) {
    case 'bool':
      return (control as HTMLInputElement).checked;
    case 'int':
    case 'float': {
      const text = control.value.trim();
      const n = Number(text);
      return text === '' || !Number.isFinite(n) ? control.value : n;
    }
    case 'list':
      try {
        return JSON.parse(control.value) as unknown;
      } catch {
        return control.value;
      }
    default:
      return control.value;
  }
}

function writeField(f: SettingField, value: unknown): void {
  if (f.entry.type === 'bool') (f.control as HTMLInputElement).checked = value === true;
  else if (f.entry.type === 'list') f.control.value = JSON.stringify(value ?? []);
  else f.control.value = value === undefined || value === null ? '' : String(value);
}

function controlFor(entry: SettingTemplate, id: string): SettingField['control'] {
  switch (entry.type) {
    case 'bool':
      return h('input', { id, type: 'checkbox' });
    case 'int':
    case 'float':
      return h('input', { id, type: 'number', step: entry.type === 'int' ? '1' : 'any', min: entry.min, max: entry.max, inputmode: entry.type === 'int' ? 'numeric' : 'decimal' });
    case 'list':
      return h('textarea', { id, rows: 2, maxlength: MAX_TEXT, spellcheck: 'false' });
    default:
      if (entry.options && entry.options.length > 0) return h('select', { id }, entry.options.map((o) => h('option', { value: o }, o)));
      return h('input', { id, type: 'text', maxlength: MAX_TEXT });
  }
}

export class SettingsForm {
  readonly element: HTMLElement;
  readonly #conn: HostConnection;
  readonly #body: HTMLElement;
  readonly #title: HTMLElement;
  #fields: SettingField[] = [];
  #saved: Record<string, unknown> = {};
  #id: number | undefined;
  #name: string | undefined;

  constructor(conn: HostConnection) {
    this.#conn = conn;
    this.#title = h('h2', { id: 'settings-title' }, 'Settings');
    this.#body = h('div', {}, h('p', { class: 'hint' }, 'Choose a mounted personality to see its settings.'));
    this.element = h('section', { class: 'settings', 'aria-labelledby': 'settings-title' }, this.#title, this.#body);
  }

  /**
   * The personality `name` was reloaded: its template may have changed. The form keeps what the user typed and
   * offers to read the settings again.
   */
  reloaded(name: string): void {
    if (this.#id === undefined || this.#name !== name || this.#body.querySelector('.reload-note')) return;
    const id = this.#id;
    this.#body.prepend(
      h('p', { class: 'warning reload-note', role: 'status' }, `${name} was reloaded: its settings may have changed. `, h('button', { type: 'button', onclick: () => void this.load(id, name) }, 'Read them again')),
    );
  }

  /** Show the settings of personality `id`. */
  async load(id: number, name: string): Promise<void> {
    this.#id = id;
    this.#name = name;
    this.#title.textContent = `Settings of ${name}`;
    replace(this.#body, h('p', { role: 'status' }, 'loading…'));
    try {
      const reply = await this.#conn.control.getPersonalitySettings(id);
      if (this.#id === id) this.#render(id, reply.template, reply.settings);
    } catch (error) {
      if (this.#id === id) replace(this.#body, h('p', { class: 'error-text', role: 'alert' }, error instanceof LollmsRequestError ? error.serverMessage : messageOf(error)));
    }
  }

  #render(id: number, template: Record<string, unknown>, values: Record<string, unknown>): void {
    const entries = Object.entries(template).filter((e): e is [string, SettingTemplate] => isTemplateEntry(e[1]));
    if (entries.length === 0) {
      replace(this.#body, h('p', { class: 'hint' }, 'This personality has no settings.'));
      return;
    }
    this.#saved = { ...values };
    this.#fields = entries.map(([name, entry]) => {
      const control = controlFor(entry, uid(`setting-${name}`));
      const error = h('p', { class: 'field-error error-text', id: `${control.id}-error` });
      const f: SettingField = { name, entry, control, error };
      writeField(f, name in values ? values[name] : entry.value);
      // Checked as the user types: an error that appeared on blur would move the Save button under the pointer.
      control.addEventListener('input', () => this.#check(f));
      control.addEventListener('change', () => this.#check(f));
      return f;
    });
    const status = h('p', { class: 'form-status', role: 'status' });
    const formError = h('p', { class: 'error-text form-error', role: 'alert' });
    const form = h(
      'form',
      {
        class: 'settings-form',
        novalidate: true,
        onsubmit: (event: Event) => {
          event.preventDefault();
          void this.#save(id, status, formError);
        },
      },
      this.#fields.map((f) => {
        const range = f.entry.min !== undefined || f.entry.max !== undefined ? ` (${f.entry.min ?? '…'} to ${f.entry.max ?? '…'})` : '';
        const hint = [f.entry.help, `${f.entry.type}${range}, default ${JSON.stringify(f.entry.value)}`].filter(Boolean).join(' · ');
        const wrapper = field(f.name, f.control, hint);
        f.control.setAttribute('aria-describedby', `${f.control.getAttribute('aria-describedby') ?? ''} ${f.error.id}`.trim());
        if (f.entry.type === 'bool') wrapper.classList.add('field-check');
        wrapper.append(f.error);
        return wrapper;
      }),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'submit', class: 'primary' }, 'Save settings'),
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              for (const f of this.#fields) writeField(f, f.entry.value);
              status.textContent = 'Defaults filled in: save to keep them.';
            },
          },
          'Fill in defaults',
        ),
      ),
      formError,
      status,
    );
    replace(this.#body, form);
  }

  /** Check one field with the host's rules; returns its value when it fits. */
  #check(f: SettingField): { ok: boolean; value: unknown } {
    const value = readField(f);
    let problem = settingProblem(f.entry, value);
    if (problem && f.entry.type === 'list' && typeof value === 'string') problem = 'expected a JSON list, e.g. ["a", "b"]';
    f.error.textContent = problem ?? '';
    if (problem) f.control.setAttribute('aria-invalid', 'true');
    else f.control.removeAttribute('aria-invalid');
    return { ok: !problem, value };
  }

  async #save(id: number, status: HTMLElement, formError: HTMLElement): Promise<void> {
    formError.textContent = '';
    status.textContent = '';
    const changes: Record<string, unknown> = {};
    let firstBad: SettingField | undefined;
    for (const f of this.#fields) {
      const { ok, value } = this.#check(f);
      if (!ok) firstBad ??= f;
      else if (JSON.stringify(value) !== JSON.stringify(this.#saved[f.name])) changes[f.name] = value;
    }
    if (firstBad) {
      formError.textContent = `Not saved: setting "${firstBad.name}": ${firstBad.error.textContent}`;
      firstBad.control.focus();
      return;
    }
    if (Object.keys(changes).length === 0) {
      status.textContent = 'Nothing changed.';
      return;
    }
    status.textContent = 'saving…';
    try {
      const reply = await this.#conn.control.setPersonalitySettings(id, changes);
      this.#saved = { ...reply.settings };
      for (const f of this.#fields) if (f.name in reply.settings) writeField(f, reply.settings[f.name]);
      status.textContent = `Saved ${Object.keys(changes).join(', ')}.`;
    } catch (error) {
      status.textContent = '';
      const message = error instanceof LollmsRequestError ? error.serverMessage : messageOf(error);
      formError.textContent = `The host refused: ${message}`;
      const named = /setting "([^"]+)"/.exec(message)?.[1];
      const f = this.#fields.find((x) => x.name === named);
      if (f) {
        f.error.textContent = message;
        f.control.setAttribute('aria-invalid', 'true');
      }
    }
  }
}
