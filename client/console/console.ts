/**
 * The lollms-host console (issue 16): the page the host serves at `/`. It talks to the host that served it with
 * the typed client's browser bundle (`lollms-host/client`), and nothing else.
 *
 * Layout: a header (model, connection, build problems, API key), the host overview the server rendered into the
 * page, and four tabs: Chat (with the workflow trace), Personalities (zoo, mount, settings), Models (installed,
 * catalogue, install) and Status.
 */
import type { PluginErrorEvent, PluginReloadedEvent, PluginWarningEvent } from 'lollms-host/client';
import { ChatView } from './chat.js';
import { HostConnection, type ConnectionState } from './connection.js';
import { h, replace } from './dom.js';
import { ModelsView } from './models.js';
import { PersonalitiesView } from './personalities.js';
import { BuildProblems } from './problems.js';
import { ConsoleState } from './state.js';
import { StatusView } from './status.js';

/** How often the Status tab reads `/status` while it is shown. */
const STATUS_INTERVAL_MS = 5000;

type TabName = 'chat' | 'personalities' | 'models' | 'status';

interface Tab {
  name: TabName;
  label: string;
  panel: HTMLElement;
  tab: HTMLButtonElement;
  /** Called each time the tab is shown. */
  shown?: () => void;
}

/** The API key dialog: a password field, kept in sessionStorage by the connection. */
function keyDialog(conn: HostConnection): { dialog: HTMLDialogElement; open(reason?: string): void } {
  const input = h('input', { type: 'password', autocomplete: 'off', id: 'api-key-input', spellcheck: 'false' });
  const reason = h('p', { class: 'hint', id: 'api-key-reason' });
  input.setAttribute('aria-describedby', reason.id);
  const dialog = h('dialog', { class: 'key-dialog', 'aria-labelledby': 'key-title' });
  const form = h(
    'form',
    {
      onsubmit: (event: Event) => {
        event.preventDefault();
        dialog.close();
        void conn.setApiKey(input.value.trim() || undefined);
      },
    },
    h('h2', { id: 'key-title' }, 'API key'),
    reason,
    h('div', { class: 'field' }, h('label', { for: input.id }, 'API key of this host'), input),
    h('p', { class: 'hint' }, 'Kept in this tab only (session storage). Sent with every request to the host: as "Authorization: Bearer", and as the token parameter of the socket connection.'),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary' }, 'Use this key'),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            input.value = '';
            dialog.close();
            void conn.setApiKey(undefined);
          },
        },
        'Forget the key',
      ),
      h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'),
    ),
  );
  dialog.append(form);
  return {
    dialog,
    open(why) {
      reason.textContent = why ?? 'Needed when the host has an api_key in its config (always when it listens on a network address).';
      input.value = conn.apiKey ?? '';
      if (!dialog.open) dialog.showModal();
      input.focus();
    },
  };
}

function connectionText(state: ConnectionState): string {
  switch (state.kind) {
    case 'connecting':
      return 'connecting…';
    case 'connected':
      return 'connected';
    case 'disconnected':
      return state.reason;
    case 'refused':
      if (state.badOrigin) return `refused: add this page's origin (${location.origin}) to allowed_origins in the host's config`;
      if (state.needsKey) return 'refused: this host needs its API key';
      return `cannot connect: ${state.reason}`;
  }
}

function start(): void {
  const main = document.getElementById('main');
  const topbar = document.getElementById('topbar-status');
  if (!main || !topbar) throw new Error('the console page is missing #main or #topbar-status');

  const conn = new HostConnection();
  const state = new ConsoleState();
  const problems = new BuildProblems();
  const chat = new ChatView(conn, state);
  const personalities = new PersonalitiesView(conn, state);
  const models = new ModelsView(conn, state);
  const status = new StatusView(conn, state, document.getElementById('overview'));
  const key = keyDialog(conn);

  // Header: model, connection, problems badge, key button.
  const modelChip = h('span', { class: 'model-chip', 'data-field': 'header-model' });
  const connection = h('span', { class: 'connection', role: 'status', 'data-state': 'connecting' }, 'connecting…');
  const keyButton = h('button', { type: 'button', onclick: () => key.open() }, 'API key');
  replace(topbar, modelChip, connection, problems.badge, keyButton);
  const showModel = () => {
    replace(modelChip, state.model ? ['model ', h('code', {}, state.model)] : 'no model', state.testModel ? h('span', { class: 'tag tag-warning' }, 'test model') : null);
  };
  state.on('model', showModel);
  showModel();

  // Tabs (WAI-ARIA tabs: arrows move between them, Home/End jump).
  const tabs: Tab[] = (
    [
      ['chat', 'Chat', chat.element],
      ['personalities', 'Personalities', personalities.element],
      ['models', 'Models', models.element],
      ['status', 'Status', status.element],
    ] as const
  ).map(([name, label, content]) => ({
    name,
    label,
    tab: h('button', { type: 'button', role: 'tab', id: `tab-${name}`, 'aria-controls': `panel-${name}` }, label),
    panel: h('div', { role: 'tabpanel', id: `panel-${name}`, 'aria-labelledby': `tab-${name}`, tabindex: 0 }, content),
  }));
  let statusTimer: ReturnType<typeof setInterval> | undefined;
  const byName = (name: string) => tabs.find((t) => t.name === name);
  const select = (tab: Tab, focus: boolean) => {
    for (const t of tabs) {
      const on = t === tab;
      t.tab.setAttribute('aria-selected', String(on));
      t.tab.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
    }
    if (focus) tab.tab.focus();
    if (location.hash !== `#${tab.name}`) history.replaceState(null, '', `#${tab.name}`);
    clearInterval(statusTimer);
    statusTimer = undefined;
    if (tab.name === 'status') {
      void status.refresh();
      statusTimer = setInterval(() => {
        if (document.visibilityState === 'visible') void status.refresh();
      }, STATUS_INTERVAL_MS);
    }
  };
  const tablist = h('div', { role: 'tablist', 'aria-label': 'Console sections', class: 'tabs' }, tabs.map((t) => t.tab));
  tablist.addEventListener('keydown', (event) => {
    const at = tabs.findIndex((t) => t.tab === document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length]!, true);
  });
  for (const t of tabs) t.tab.addEventListener('click', () => select(t, false));
  main.replaceChildren(problems.warnings, tablist, ...tabs.map((t) => t.panel));
  document.body.append(problems.overlay, key.dialog);
  select(byName(location.hash.slice(1)) ?? tabs[0]!, false);
  window.addEventListener('hashchange', () => {
    const tab = byName(location.hash.slice(1));
    if (tab) select(tab, false);
  });

  personalities.onChat = (id) => {
    select(byName('chat')!, false);
    chat.selectTarget(id);
  };
  chat.onTurnEnd = () => void status.refresh();
  models.onChange = () => void status.refresh();

  // Broadcasts.
  conn.on<PluginErrorEvent>('plugin_error', (event) => {
    problems.error(event);
    status.sawReload(event);
  });
  conn.on<PluginReloadedEvent>('plugin_reloaded', (event) => {
    problems.reloaded(event);
    status.sawReload(event);
    if (event.kind === 'personality') {
      void personalities.refreshMounted();
      personalities.settings.reloaded(event.name);
    }
  });
  conn.on<PluginWarningEvent>('plugin_warning', (event) => problems.warning(event));

  const load = async () => {
    await conn.start();
    if (conn.state.kind !== 'connected') return;
    await Promise.all([status.refresh(), personalities.refresh(), models.refresh()]);
  };
  conn.onState((s) => {
    connection.textContent = connectionText(s);
    connection.dataset.state = s.kind;
    if (s.kind === 'refused' && s.needsKey) key.open(conn.apiKey ? 'The host refused this key.' : 'This host needs its API key.');
  });
  conn.onClients(() => {
    if (conn.state.kind === 'connected') void Promise.all([status.refresh(), personalities.refresh(), models.refresh()]);
  });
  void load();
}

start();
