/**
 * The console's link to the host that served it: two typed clients (lollms-host/client's browser bundle) and
 * HTTP reads, all with the API key the user entered.
 *
 * - `control`: listings, settings, models, installs and the broadcasts (`plugin_error`, `plugin_reloaded`, ...).
 * - `chat`: the generations. The host keeps one discussion per connection and has no event to reset it, so a new
 *   discussion is a new connection; `control` (and a running install) is not disturbed by it.
 *
 * The key lives in sessionStorage (gone when the tab closes). It goes out on the socket.io handshake request (the
 * typed client puts it in the `token` query parameter: a browser cannot set headers on a WebSocket) and as
 * `Authorization: Bearer` on HTTP requests.
 *
 * The host refuses a handshake on the request itself (401: the key; 403: the page's origin, protocol.md §1.7 and
 * §1.8), and a browser tells a page nothing about a refused WebSocket. So when a connection fails, the console asks
 * the host why (`#whyRefused`) and says what to change.
 */
import { LollmsClient, type LollmsSocket } from 'lollms-host/client';
import { messageOf } from './dom.js';

const KEY_STORAGE = 'lollms-host.api-key';

/** Where the connection stands, for the header and the key dialog. */
export type ConnectionState =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'disconnected'; reason: string }
  | { kind: 'refused'; reason: string; needsKey: boolean; badOrigin: boolean };

/** The host's refusal of a handshake: its status and its message (`{code, message}` in the body). */
export interface Refusal {
  status: 401 | 403;
  message: string;
}

/** The socket.io handshake's address; a POST to it is checked as a handshake, and then refused without a session. */
const HANDSHAKE_PROBE = '/socket.io/?EIO=4&transport=polling';

/** An HTTP answer: the status and the parsed JSON body (undefined when it is not JSON). */
export interface JsonAnswer<T> {
  status: number;
  body: T | undefined;
}

type Listener = (payload: never) => void;

function readStoredKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
  } catch {
    return undefined; // storage disabled: the key lasts as long as the page
  }
}

export class HostConnection {
  /** The host's address: the page's own origin. */
  readonly url: string;
  #apiKey: string | undefined = readStoredKey();
  #control: LollmsClient;
  #chat: LollmsClient;
  #state: ConnectionState = { kind: 'connecting' };
  /** Broadcast listeners, kept across client replacements. */
  readonly #controlListeners: Array<[string, Listener]> = [];
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();
  readonly #clientListeners = new Set<() => void>();

  constructor(url: string = location.origin) {
    this.url = url;
    this.#control = this.#makeClient();
    this.#chat = this.#makeClient();
    this.#watch();
  }

  get apiKey(): string | undefined {
    return this.#apiKey;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The client for everything but generations. Replaced when the key changes: use it, do not keep it. */
  get control(): LollmsClient {
    return this.#control;
  }

  /** The client that generates; replaced by `newDiscussion()` and when the key changes. */
  get chat(): LollmsClient {
    return this.#chat;
  }

  /** Connect both clients; resolves when `control` is up (or refused: see `state`). */
  async start(): Promise<void> {
    await Promise.all([this.#connect(this.#control, true), this.#connect(this.#chat, false)]);
  }

  /** Listen to a broadcast on the control connection, across reconnections and key changes. */
  on<T>(event: string, listener: (payload: T) => void): void {
    this.#controlListeners.push([event, listener as Listener]);
    (this.#control.socket as unknown as { on(e: string, l: Listener): void }).on(event, listener as Listener);
  }

  /** Called with every state change. */
  onState(listener: (state: ConnectionState) => void): void {
    this.#stateListeners.add(listener);
  }

  /** Called after the clients were replaced (a new key): views reload what they show. */
  onClients(listener: () => void): void {
    this.#clientListeners.add(listener);
  }

  /** Save the key for this tab and reconnect with it (`undefined` forgets it). */
  async setApiKey(key: string | undefined): Promise<void> {
    this.#apiKey = key || undefined;
    try {
      if (this.#apiKey) sessionStorage.setItem(KEY_STORAGE, this.#apiKey);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      // storage disabled: keep it in memory only
    }
    await Promise.all([this.#control.close(), this.#chat.close()]);
    this.#control = this.#makeClient();
    this.#chat = this.#makeClient();
    this.#watch();
    await this.start();
    for (const listener of this.#clientListeners) listener();
  }

  /** Start a new discussion: the host forgets the old one with its connection. */
  async newDiscussion(): Promise<void> {
    const old = this.#chat;
    this.#chat = this.#makeClient();
    await old.close();
    await this.#connect(this.#chat, false);
  }

  /**
   * The address of a host asset for an `<img src>` (which cannot carry a header): with the key as the `token`
   * parameter when there is one (protocol.md §1.8). The page's Referrer-Policy keeps it from leaving the host.
   */
  assetUrl(path: string): string {
    const url = new URL(path, this.url);
    if (this.#apiKey) url.searchParams.set('token', this.#apiKey);
    return url.pathname + url.search;
  }

  /** GET a JSON route of the host with the key. */
  async getJson<T>(path: string, signal?: AbortSignal): Promise<JsonAnswer<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    const response = await fetch(new URL(path, this.url), { headers, signal: signal ?? null, cache: 'no-store' });
    const type = response.headers.get('content-type') ?? '';
    const body = type.includes('application/json') ? ((await response.json()) as T) : undefined;
    return { status: response.status, body };
  }

  #makeClient(): LollmsClient {
    return new LollmsClient({
      url: this.url,
      // A WebSocket handshake carries the page's Origin, so a refused origin is refused at once. Over polling the
      // first request (a same-origin GET) carries none, and the refusal would only come later, on a POST into the
      // session.
      transports: ['websocket'],
      autoConnect: false,
      ...(this.#apiKey ? { apiKey: this.#apiKey } : {}),
    });
  }

  async #connect(client: LollmsClient, reportState: boolean): Promise<void> {
    if (reportState) this.#setState({ kind: 'connecting' });
    try {
      await client.connect({ timeoutMs: 15_000 });
    } catch (error) {
      if (!reportState || client !== this.#control) return;
      const refusal = await this.#whyRefused();
      this.#setState(refusal ? refusedState(refusal) : { kind: 'refused', reason: messageOf(error), needsKey: false, badOrigin: false });
    }
  }

  /**
   * Why the host refuses this page's handshake, in its own words; undefined when it does not (or cannot be asked).
   * The question is a POST to the handshake's address, with the key: the host runs the same checks as on a
   * handshake (a POST carries the page's Origin, as the WebSocket does), and answers 401/403 with the reason, or,
   * when they pass, refuses the POST itself (400) without opening a session.
   */
  async #whyRefused(): Promise<Refusal | undefined> {
    try {
      const headers: Record<string, string> = {};
      if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
      const response = await fetch(new URL(HANDSHAKE_PROBE, this.url), { method: 'POST', headers, cache: 'no-store', referrerPolicy: 'same-origin' });
      if (response.status !== 401 && response.status !== 403) return undefined;
      const body = (await response.json().catch(() => undefined)) as { message?: unknown } | undefined;
      return { status: response.status, message: typeof body?.message === 'string' ? body.message : `HTTP ${response.status}` };
    } catch {
      return undefined; // the host is not reachable at all: the connect error says so
    }
  }

  /** Follow the control socket's life, and attach the broadcast listeners to it. */
  #watch(): void {
    const socket: LollmsSocket = this.#control.socket;
    const loose = socket as unknown as { on(e: string, l: Listener): void };
    for (const [event, listener] of this.#controlListeners) loose.on(event, listener);
    socket.on('connect', () => {
      if (this.#control.socket === socket) this.#setState({ kind: 'connected' });
    });
    socket.on('disconnect', (reason) => {
      if (this.#control.socket !== socket || reason === 'io client disconnect') return;
      this.#setState({ kind: 'disconnected', reason: `connection lost (${reason}); reconnecting` });
      // socket.io retries a lost transport by itself, but not a disconnect the host asked for: ask again (a
      // refusal then stops it, below).
      if (reason === 'io server disconnect') socket.connect();
    });
    // socket.io reconnects by itself after a lost connection; a host that now refuses (a new key, a narrower
    // allowed_origins) would be retried forever: ask why, and stop when it is a refusal.
    socket.on('connect_error', () => {
      if (this.#control.socket !== socket || this.#state.kind !== 'disconnected') return;
      void this.#whyRefused().then((refusal) => {
        if (!refusal || this.#control.socket !== socket || socket.connected) return;
        socket.disconnect();
        this.#chat.socket.disconnect(); // refused the same way; a new key makes new clients
        this.#setState(refusedState(refusal));
      });
    });
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state);
  }
}

/** The state of a refused connection. */
function refusedState(refusal: Refusal): ConnectionState {
  return { kind: 'refused', reason: refusal.message, needsKey: refusal.status === 401, badOrigin: refusal.status === 403 && /allowed_origins/.test(refusal.message) };
}
