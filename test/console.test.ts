/**
 * The console in a real browser (headless Chromium) against a real host on the test model. Screenshots of the
 * states go to test-results/screenshots/ (docs/console.md shows two of them).
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { LollmsClient } from 'lollms-host/client';
import { buildConsole, CHROMIUM_INSTALL_TIMEOUT_MS, launchBrowser, type TestBrowser, type WatchedPage } from './helpers/browser.js';
import { next, startTestHost, type TestHost } from './helpers/host.js';
import { tinyModel } from './helpers/models.js';
import { formatBytes } from '../client/console/dom.js';
import type { Socket as ServerSocket } from 'socket.io';
import type { PluginErrorEvent, PluginWarningEvent, StatusReport } from '../core/index.js';

const FIXTURE_ZOO = fileURLToPath(new URL('./fixtures/personalities/', import.meta.url));
const DEMO_PATH = 'english/console/workflow_demo';
const DEMO_NAME = 'Workflow Demo';
/** A workflow that generates until it is cancelled: it holds the host's only slot for the Status test. */
const HOLDER_PATH = 'english/console/slot_holder';
/** A workflow that asks three questions (choices, free text, one that times out) and a last one to finish. */
const ASKER_PATH = 'english/console/asker';
/** A workflow whose ctx.chat calls a tool that works and one that fails. */
const TOOLS_PATH = 'english/console/tool_user';

/**
 * A raw generation of the tiny model that runs for about a second and does not stop early at EOS (the same one
 * the client tests cancel): long enough to see it stream and cancel it.
 */
const LONG = { prompt: 'long', maxTokens: '1500', seed: '1' };

/**
 * A reverse proxy on 127.0.0.2, in front of the host at `target()`, as a site puts one in front of a service: it
 * passes requests and WebSocket upgrades on with the target's own Host header, so the page it serves has an origin
 * the host does not know as its own.
 */
async function reverseProxy(target: () => URL): Promise<{ origin: string; close(): void }> {
  const tunnels = new Set<Socket>();
  const server = createServer((req, res) => {
    const to = target();
    const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const to = target();
    const upstream = connect(Number(to.port), to.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? to.host : req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      tunnels.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        tunnels.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  return {
    origin: `http://127.0.0.2:${(server.address() as AddressInfo).port}`,
    close() {
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('console in a browser', function () {
  this.timeout(60_000);
  let browser: TestBrowser;
  let host: TestHost;
  let zoo: string;
  let demoFolder: string;
  let processorSource: string;
  /** A socket.io client of the test itself, to watch broadcasts and check what the host saved. */
  let observer: LollmsClient;

  before(async function () {
    this.timeout(CHROMIUM_INSTALL_TIMEOUT_MS);
    zoo = await mkdtemp(join(tmpdir(), 'lollms-console-zoo-'));
    await cp(FIXTURE_ZOO, zoo, { recursive: true });
    demoFolder = join(zoo, ...DEMO_PATH.split('/'));
    processorSource = await readFile(join(demoFolder, 'scripts', 'processor.ts'), 'utf8');
    const [launched] = await Promise.all([launchBrowser(), buildConsole()]);
    browser = launched;
    host = await startTestHost({
      config: {
        personalities_paths: [zoo],
        personalities: [DEMO_PATH],
        watch: true,
        ctx_size: 4096,
        // One generation at a time and two that wait: the Status tab shows a busy slot and a queue, the chat the
        // place of its turn in it.
        parallel: 1,
        max_queue: 2,
        // The install test downloads from a file server on loopback (client installs reach public addresses only).
        install_allowed_hosts: ['127.0.0.1'],
      },
    });
    observer = new LollmsClient({ url: host.url, transports: ['websocket'] });
    await observer.connect();
  });
  after(async () => {
    await observer?.close();
    await browser?.close();
    await host?.stop();
    if (zoo) await rm(zoo, { recursive: true, force: true });
  });

  const mounted = new Map<string, number>();
  /** Mount the personality at `path` (once per run) through the observer; resolves with its id. */
  async function mountOnce(path: string): Promise<number> {
    let id = mounted.get(path);
    if (id === undefined) {
      id = (await observer.addPersonality(path)).id;
      mounted.set(path, id);
    }
    return id;
  }

  /** The next model input the host assembles for personality `id` (its diagnostics event). */
  function modelInput(id: number): Promise<string> {
    return new Promise((resolve) => {
      const listener = (event: { personality: number; prompt: string }) => {
        if (event.personality !== id) return;
        host.host.events.off('prompt', listener);
        resolve(event.prompt);
      };
      host.host.events.on('prompt', listener);
    });
  }

  /**
   * Resolves with the host's socket once it has handled the next `event` from any client (a listener added after
   * the host's own runs after it; `generate_text` decides queue or slot synchronously, so the request is placed).
   */
  function hostReceived(event: string): Promise<ServerSocket> {
    return new Promise((resolve) => {
      const watched = new Map<ServerSocket, () => void>();
      const stop = () => {
        host.host.io.off('connection', watch as never);
        for (const [socket, listener] of watched) socket.off(event, listener);
      };
      const watch = (socket: ServerSocket) => {
        const listener = () => {
          stop();
          resolve(socket);
        };
        watched.set(socket, listener);
        socket.on(event, listener);
      };
      for (const socket of host.host.io.sockets.sockets.values()) watch(socket as unknown as ServerSocket);
      host.host.io.on('connection', watch as never);
    });
  }

  /** Open the console (optionally on a tab) and wait until it is connected. */
  async function openConsole(tab = '', options: Parameters<TestBrowser['open']>[1] = {}): Promise<WatchedPage> {
    const watched = await browser.open(`${host.url}/${tab ? `#${tab}` : ''}`, options);
    await watched.page.locator('.connection[data-state="connected"]').waitFor();
    return watched;
  }

  /** Chat with `target` (an option's label, or its index) and send `prompt`, with sampling values when given. */
  async function sendPrompt(page: Page, target: string | number, prompt: string, sampling: Record<string, string> = {}): Promise<void> {
    await page.getByRole('combobox', { name: 'Chat with' }).selectOption(typeof target === 'number' ? { index: target } : { label: target });
    if (Object.keys(sampling).length > 0) {
      await page.locator('details.sampling > summary').click();
      for (const [label, value] of Object.entries(sampling)) await page.getByLabel(label, { exact: true }).fill(value);
    }
    await page.getByRole('textbox', { name: 'Message' }).fill(prompt);
    await page.getByRole('button', { name: 'Send' }).click();
  }

  it('loads with no console errors and shows the version, the model, the personalities and the docs at once', async () => {
    const watched = await openConsole();
    const { page } = watched;
    const overview = page.locator('#overview');
    expect(await overview.locator('[data-field="model"]').textContent()).to.equal('tiny-random-llama.gguf');
    expect(await overview.locator('[data-field="personalities"]').textContent()).to.contain(DEMO_NAME);
    expect(await overview.getByRole('link', { name: 'Wire protocol' }).getAttribute('href')).to.equal('/docs/protocol.md');
    expect(await page.locator('[data-field="test-model-warning"]').isVisible()).to.equal(true);
    // The page's scripts ran: the chat offers the mounted personality.
    await page.getByRole('combobox', { name: 'Chat with' }).locator('option', { hasText: DEMO_NAME }).waitFor({ state: 'attached' });
    // Every first read has answered (zoo, models, status), so every error it could log is in.
    for (const selector of ['.zoo-entry', '.installed-list li', '.status .facts dd']) await page.locator(selector).first().waitFor({ state: 'attached' });
    await watched.screenshot('home');
    expect(watched.errors).to.deep.equal([]);
    // The page's policy stops inline code even if markup ever got in.
    const refused = page.waitForEvent('console', (m) => /Content Security Policy/.test(m.text()));
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'document.body.dataset.inline = "ran"';
      document.body.append(s);
      document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="document.body.dataset.handler = \'ran\'">');
    });
    await page.waitForFunction(() => document.querySelectorAll('img[src="data:,"]').length === 1);
    expect(await page.evaluate(() => ({ ...document.body.dataset }))).to.deep.equal({});
    await refused;

    // The same overview without JavaScript: the server rendered it.
    const noScript = await browser.open(`${host.url}/`, { javaScriptEnabled: false });
    expect(await noScript.page.locator('#overview [data-field="model"]').textContent()).to.equal('tiny-random-llama.gguf');
    expect(noScript.errors).to.deep.equal([]);
    await noScript.close();
    await watched.close();
  });

  it('streams a chat with the model, and Cancel stops it', async () => {
    const watched = await openConsole();
    const { page } = watched;
    await sendPrompt(page, 0, LONG.prompt, { 'Max tokens': LONG.maxTokens, Seed: LONG.seed });
    const answer = page.locator('.turn-assistant').last();
    await answer.locator('xpath=self::*[@data-state="streaming"]').waitFor();
    expect(await page.getByRole('button', { name: 'Cancel' }).isEnabled()).to.equal(true);
    expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).to.equal(false);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await answer.locator('xpath=self::*[@data-state="cancelled"]').waitFor();
    expect(await answer.locator('.turn-status').textContent()).to.equal('cancelled');
    expect((await answer.locator('.turn-text').textContent())!.length).to.be.greaterThan(0);
    expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).to.equal(true);

    // A short generation runs to its end.
    await page.getByLabel('Max tokens', { exact: true }).fill('8');
    await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
    await page.keyboard.press('Enter'); // Enter sends
    const second = page.locator('.turn-assistant').nth(1);
    await second.locator('xpath=self::*[@data-state="done"]').waitFor();
    expect(await second.locator('.turn-status').textContent()).to.match(/^done · \d+ chunks · /);
    await watched.screenshot('chat-model');
    expect(watched.errors).to.deep.equal([]);
    await watched.close();
  });

  it("shows a processor personality's step trace: steps, progress, info, warning, exception, JSON, code", async () => {
    const watched = await openConsole();
    const { page } = watched;
    await sendPrompt(page, `${DEMO_NAME} (personality 0)`, 'hello');
    const answer = page.locator('.turn-assistant').last();
    await answer.locator('xpath=self::*[@data-state="done"]').waitFor();
    expect(await answer.locator('.turn-text').textContent()).to.match(/^plain: /);
    const trace = page.locator('.trace-turn').first();
    const steps = trace.locator('.trace-step');
    expect(await steps.count()).to.equal(3);
    for (const [i, label] of ['Step 1 of 2', 'Step 2 of 2'].entries()) {
      const step = steps.nth(i);
      expect(await step.locator('.step-label').textContent()).to.equal(label);
      expect(await step.locator('.step-status').textContent()).to.equal('done');
      expect(await step.getAttribute('class')).to.contain('step-ok');
      // start → end · duration
      expect(await step.locator('.times').textContent()).to.match(/^\d\d:\d\d:\d\d\.\d{3} → \d\d:\d\d:\d\d\.\d{3} · \d+(\.\d)? (ms|s)$/);
      expect(await step.locator('progress').evaluate((p: HTMLProgressElement) => p.value)).to.equal(100);
    }
    expect(await steps.nth(2).locator('.step-status').textContent()).to.equal('failed');
    expect(await steps.nth(2).getAttribute('class')).to.contain('step-failed');
    expect(await trace.locator('.trace-info .text').textContent()).to.equal('workflow started');
    expect(await trace.locator('.trace-warning .text').textContent()).to.equal('this is a warning');
    expect(await trace.locator('.trace-exception .text').textContent()).to.equal('this is an exception, reported and not thrown');
    const json = trace.locator('.trace-json');
    expect(await json.locator('.json-key').first().textContent()).to.equal('Result: ');
    expect(await json.textContent()).to.contain('"hello"');
    // The tree folds: the deepest level starts closed, and opens with the keyboard.
    const list = json.locator('details', { hasText: 'list:' }).last();
    expect(await list.getAttribute('open')).to.equal(null);
    await list.locator('> summary').focus();
    await page.keyboard.press('Enter');
    expect(await list.getAttribute('open')).to.equal('');
    expect(await trace.locator('.trace-code code').textContent()).to.equal('const answer = 42;\nconsole.log(answer);');
    await watched.screenshot('trace');
    await watched.close();
  });

  it("renders MSG_TYPE_UI HTML in a sandboxed frame that cannot reach the page's DOM or cookies", async () => {
    const watched = await openConsole();
    const { page, context } = watched;
    await context.addCookies([{ name: 'console_secret', value: 'do-not-leak', url: host.url }]);
    const blocked = page.waitForEvent('console', (m) => /Blocked script execution in 'about:srcdoc'/.test(m.text()));
    await sendPrompt(page, `${DEMO_NAME} (personality 0)`, 'ui please');
    await page.locator('.turn-assistant[data-state="done"]').waitFor();
    const frameElement = page.locator('.trace-ui iframe');
    // sandbox is present and empty: no allow-scripts, no allow-same-origin.
    expect(await frameElement.getAttribute('sandbox')).to.equal('');
    expect(await frameElement.getAttribute('src')).to.equal(null);
    // The HTML is not in the page's DOM.
    expect(await page.locator('#ui-title').count()).to.equal(0);
    const frame = await (await frameElement.elementHandle())!.contentFrame();
    expect(await frame!.locator('#ui-title').textContent()).to.equal('Processor HTML');
    // Its inline style applies (style-src allows it), its scripts and handlers never ran.
    expect(await frame!.locator('p').evaluate((p) => getComputedStyle(p).color)).to.equal('rgb(200, 0, 0)');
    expect(await page.evaluate(() => document.body.getAttribute('data-pwned'))).to.equal(null);
    expect(await page.title()).to.equal('lollms-host console');
    // Even code run inside the frame (as the test can) finds an opaque origin with no way into the page.
    // (A string, so that the test's compiler adds no helpers the frame does not have.)
    const reach = await frame!.evaluate(`(() => {
      const attempt = (f) => { try { return 'read: ' + String(f()); } catch (error) { return 'blocked: ' + error.name; } };
      return {
        origin: self.origin,
        parentDom: attempt(() => window.parent.document.body.innerHTML),
        topCookie: attempt(() => window.top.document.cookie),
        ownCookie: attempt(() => document.cookie),
        storage: attempt(() => window.sessionStorage.length),
      };
    })()`);
    expect(reach).to.deep.equal({ origin: 'null', parentDom: 'blocked: SecurityError', topCookie: 'blocked: SecurityError', ownCookie: 'blocked: SecurityError', storage: 'blocked: SecurityError' });
    // The blocked script shows up as Chromium's own report, never as a page error.
    expect(watched.errors.filter((e) => e.startsWith('uncaught'))).to.deep.equal([]);
    await blocked;
    await watched.close();
  });

  it('shows a broken save as an overlay with the right line, and a fixed save clears it', async () => {
    const watched = await openConsole();
    const { page } = watched;
    const processor = join(demoFolder, 'scripts', 'processor.ts');
    const broken = `${processorSource}\nconst broken = ;\n`;
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.startsWith('const broken')) + 1;
    const column = lines[line - 1]!.indexOf(';') + 1;
    const failed = next(observer.socket as never, 'plugin_error', 30_000) as Promise<PluginErrorEvent>;
    await writeFile(processor, broken);
    const event = await failed;
    const overlay = page.getByRole('alert').filter({ has: page.locator('#overlay-title') });
    await overlay.waitFor();
    expect(await overlay.locator('.overlay-error h3').textContent()).to.equal(`personality ${DEMO_NAME}`);
    expect(await overlay.locator('.location').textContent()).to.equal(`scripts/processor.ts:${line}:${column}`);
    // The message without the plugin and place the overlay shows apart.
    expect(await overlay.locator('.overlay-message').textContent()).to.equal('Unexpected ";"');
    expect(event.error.message).to.contain('Unexpected ";"');
    // The host's code frame, as it sent it: the numbered lines around the error, a caret under its column.
    expect(event.error.frame).to.contain(`> ${line} | const broken = ;`);
    expect(await overlay.locator('.code-frame').textContent()).to.equal(event.error.frame);
    await watched.screenshot('build-error-overlay');

    // Esc hides it; the header badge brings it back.
    await page.keyboard.press('Escape');
    await overlay.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: '1 build error' }).click();
    await overlay.waitFor();

    const reloaded = next(observer.socket as never, 'plugin_reloaded', 30_000);
    await writeFile(processor, processorSource);
    await reloaded;
    await overlay.waitFor({ state: 'hidden' });
    expect(await page.getByRole('button', { name: /build error/ }).isVisible()).to.equal(false);
    await watched.close();
  });

  it('lists type errors apart from build errors, as the host finds them after a save, and a fixed save clears them', async () => {
    const watched = await openConsole();
    const { page } = watched;
    const processor = join(demoFolder, 'scripts', 'processor.ts');
    // A type error does not stop the reload (esbuild drops types); the watching host type-checks in the background.
    const typed = `${processorSource}\nexport const typed: number = 'not a number';\n`;
    const lines = typed.split('\n');
    const line = lines.findIndex((l) => l.startsWith('export const typed')) + 1;
    const column = lines[line - 1]!.indexOf('typed') + 1;
    const reloaded = next(observer.socket as never, 'plugin_reloaded', 30_000);
    const warned = next(observer.socket as never, 'plugin_warning', 60_000) as Promise<PluginWarningEvent>;
    await writeFile(processor, typed);
    await reloaded;
    const event = await warned;
    expect(event).to.deep.include({ kind: 'personality', name: DEMO_NAME, path: DEMO_PATH });
    expect(event.warnings).to.have.length(1);
    const panel = page.getByRole('region', { name: 'Plugin warnings' });
    await panel.waitFor();
    expect(await panel.locator('summary').textContent()).to.equal('1 plugin warning (the plugins still reloaded)');
    await panel.locator('summary').click();
    const item = panel.locator('li').first();
    expect(await item.locator('.location').textContent()).to.equal(`scripts/processor.ts:${line}:${column}`);
    expect(await item.textContent()).to.contain("TS2322: Type 'string' is not assignable to type 'number'.");
    expect(await item.locator('.code-frame').textContent()).to.equal(event.warnings[0]!.frame);
    expect(event.warnings[0]!.frame).to.contain(`> ${line} | export const typed`);
    // A warning is not a build error: no overlay, no badge.
    expect(await page.locator('.error-overlay').isVisible()).to.equal(false);
    expect(await page.getByRole('button', { name: /build error/ }).isVisible()).to.equal(false);
    await watched.screenshot('plugin-warning');

    const cleared = next(observer.socket as never, 'plugin_warning', 60_000) as Promise<PluginWarningEvent>;
    await writeFile(processor, processorSource);
    expect((await cleared).warnings).to.deep.equal([]);
    await panel.waitFor({ state: 'hidden' });
    expect(watched.errors).to.deep.equal([]);
    await watched.close();
  });

  it('edits personality settings in a form made from the template; values round-trip and refusals show', async () => {
    const watched = await openConsole('personalities');
    const { page } = watched;
    await page.getByRole('button', { name: `Settings of ${DEMO_NAME}` }).click();
    const form = page.locator('form.settings-form');
    await form.waitFor();
    const steps = form.getByLabel('steps', { exact: true });
    expect(await steps.inputValue()).to.equal('2');
    expect(await form.getByLabel('style', { exact: true }).evaluate((s: HTMLSelectElement) => s.tagName)).to.equal('SELECT');
    expect(await form.getByLabel('loud', { exact: true }).getAttribute('type')).to.equal('checkbox');

    // Checked in the browser with the host's rules: nothing is sent.
    await steps.fill('9');
    await form.getByRole('button', { name: 'Save settings' }).click();
    expect(await form.locator('.form-error').textContent()).to.equal('Not saved: setting "steps": 9 is above the maximum 5');
    expect(await steps.getAttribute('aria-invalid')).to.equal('true');
    expect((await observer.getPersonalitySettings(0)).settings.steps).to.equal(2);

    await steps.fill('3');
    await form.getByLabel('weight', { exact: true }).fill('0.25');
    await form.getByLabel('style', { exact: true }).selectOption('fancy');
    await form.getByLabel('loud', { exact: true }).check();
    await form.getByLabel('tags', { exact: true }).fill('["x", "y"]');
    await form.getByRole('button', { name: 'Save settings' }).click();
    await form.locator('.form-status', { hasText: 'Saved steps, weight, style, loud, tags.' }).waitFor();
    expect((await observer.getPersonalitySettings(0)).settings).to.deep.equal({ steps: 3, weight: 0.25, style: 'fancy', loud: true, tags: ['x', 'y'] });
    await watched.screenshot('settings');

    // A new page reads them back from the host.
    const again = await openConsole('personalities');
    await again.page.getByRole('button', { name: `Settings of ${DEMO_NAME}` }).click();
    const form2 = again.page.locator('form.settings-form');
    await form2.waitFor();
    expect(await form2.getByLabel('steps', { exact: true }).inputValue()).to.equal('3');
    expect(await form2.getByLabel('style', { exact: true }).inputValue()).to.equal('fancy');
    expect(await form2.getByLabel('loud', { exact: true }).isChecked()).to.equal(true);
    expect(await form2.getByLabel('tags', { exact: true }).inputValue()).to.equal('["x","y"]');
    await again.close();

    // The template changes under the open form (a save of the processor): the host's refusal is shown.
    const reloaded = next(observer.socket as never, 'plugin_reloaded', 30_000);
    await writeFile(join(demoFolder, 'scripts', 'processor.ts'), processorSource.replace('min: 1, max: 5', 'min: 1, max: 3'));
    await reloaded;
    // The form says the template may have changed, and keeps what was typed until asked to read it again.
    await form.locator('xpath=..').locator('.reload-note').waitFor();
    await steps.fill('4');
    await form.getByRole('button', { name: 'Save settings' }).click();
    await form.locator('.form-error', { hasText: 'The host refused' }).waitFor();
    expect(await form.locator('.form-error').textContent()).to.equal('The host refused: setting "steps": 4 is above the maximum 3');
    expect(await steps.getAttribute('aria-invalid')).to.equal('true');

    const restored = next(observer.socket as never, 'plugin_reloaded', 30_000);
    await writeFile(join(demoFolder, 'scripts', 'processor.ts'), processorSource);
    await restored;
    await page.getByRole('button', { name: 'Read them again' }).click();
    await page.locator('form.settings-form').getByLabel('steps', { exact: true }).waitFor();
    expect(await page.locator('form.settings-form').getByLabel('steps', { exact: true }).inputValue()).to.equal('3');
    await observer.setPersonalitySettings(0, { steps: 2, weight: 0.5, style: 'plain', loud: false, tags: ['demo'] });
    await watched.close();
  });

  it('mounts a personality from the zoo and chats with it', async () => {
    const watched = await openConsole('personalities');
    const { page } = watched;
    // (The path: other built-in personalities of the category have "lollms" in their author's name.)
    await page.getByLabel('Filter').fill('english/generic/lollms');
    const entry = page.locator('.zoo-entry[data-path="english/generic/lollms"]');
    await entry.waitFor();
    expect(await page.locator('.zoo-entry').count()).to.equal(1);
    await entry.getByRole('button', { name: 'Mount lollms (english/generic/lollms)' }).click();
    await page.locator('.mounted-list li[data-id="1"]', { hasText: 'lollms' }).waitFor();
    await entry.locator('.tag', { hasText: 'mounted as 1' }).waitFor();
    expect((await observer.listActivePersonalities()).personalities).to.deep.equal([DEMO_NAME, 'lollms']);
    await page.getByRole('button', { name: 'Chat with lollms' }).first().click();
    expect(await page.getByRole('tab', { name: 'Chat' }).getAttribute('aria-selected')).to.equal('true');
    expect(await page.getByRole('combobox', { name: 'Chat with' }).inputValue()).to.equal('1');
    // A personality samples with its own values: only Max tokens can be set.
    await page.locator('details.sampling > summary').click();
    expect(await page.getByLabel('Temperature', { exact: true }).isDisabled()).to.equal(true);
    await page.getByLabel('Max tokens', { exact: true }).fill('8');
    await page.getByRole('textbox', { name: 'Message' }).fill('Hello');
    const firstInput = modelInput(1);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.turn-assistant[data-state="done"]').waitFor();
    expect(await firstInput).to.contain('Hello');
    expect(await page.locator('.trace-turn .trace-state').first().textContent()).to.equal('done · no workflow messages');

    // The discussion goes on in the next turn; New discussion starts afresh (a new connection).
    let input = modelInput(1);
    await page.getByRole('textbox', { name: 'Message' }).fill('Second');
    await page.keyboard.press('Enter');
    await page.locator('.turn-assistant[data-state="done"]').nth(1).waitFor();
    expect(await input).to.contain('Hello').and.to.contain('Second');
    await page.getByRole('button', { name: 'New discussion' }).click();
    expect(await page.locator('.transcript .turn').count()).to.equal(0);
    input = modelInput(1);
    await page.getByRole('textbox', { name: 'Message' }).fill('Third');
    await page.keyboard.press('Enter');
    await page.locator('.turn-assistant[data-state="done"]').waitFor();
    expect(await input).to.contain('Third').and.not.to.contain('Hello');
    await watched.close();
  });

  it('obeys allowed_origins: behind a proxy whose address is not allowed, it says which origin to add', async () => {
    // The host always accepts its own pages (same origin as the Host header). Behind a reverse proxy the page has
    // the proxy's origin, which the host only accepts once it is in allowed_origins.
    let target = new URL(host.url);
    const proxy = await reverseProxy(() => target);
    let allowing: TestHost | undefined;
    try {
      const watched = await browser.open(`${proxy.origin}/`);
      const { page } = watched;
      const connection = page.locator('.connection[data-state="refused"]');
      await connection.waitFor();
      expect(await connection.textContent()).to.equal(`refused: add this page's origin (${proxy.origin}) to allowed_origins in the host's config`);
      expect(await page.getByRole('dialog', { name: 'API key' }).isVisible()).to.equal(false);
      await watched.screenshot('refused-origin');

      // The same proxy in front of a host that lists its origin.
      allowing = await startTestHost({ config: { allowed_origins: [proxy.origin] } });
      target = new URL(allowing.url);
      await page.reload();
      await page.locator('.connection[data-state="connected"]').waitFor();
      await page.locator('[data-field="header-model"]', { hasText: 'tiny-random-llama.gguf' }).waitFor();
      await watched.close();
    } finally {
      proxy.close();
      await allowing?.stop();
    }
  });

  describe('installing a model', () => {
    /** A valid GGUF (the tiny test model's bytes), so that the installed file can be selected and loaded. */
    let FILE: Buffer;
    let SHA256: string;
    let files: Server;
    let base: string;
    let requests = 0;
    /** The first request sends a quarter of the file, then waits for this (the test cancels meanwhile). */
    let firstStalled: Promise<void>;
    let markStalled: () => void;

    before(async () => {
      FILE = await readFile(await tinyModel());
      SHA256 = createHash('sha256').update(FILE).digest('hex');
      firstStalled = new Promise((resolve) => (markStalled = resolve));
      files = createServer((req: IncomingMessage, res: ServerResponse) => {
        requests += 1;
        const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        const start = range ? Number(range[1]) : 0;
        const head = range
          ? { 'content-length': FILE.length - start, 'content-range': `bytes ${start}-${FILE.length - 1}/${FILE.length}`, 'accept-ranges': 'bytes' }
          : { 'content-length': FILE.length, 'accept-ranges': 'bytes' };
        res.writeHead(range ? 206 : 200, head);
        if (requests === 1) {
          res.write(FILE.subarray(0, Math.floor(FILE.length / 4)));
          markStalled();
          return; // held open until the host cancels the download
        }
        res.end(FILE.subarray(start));
      });
      await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    });
    after(() => {
      files?.closeAllConnections();
      files?.close();
    });

    it('shows the progress of an install from a local file server, cancels it, and installs it again', async () => {
      const watched = await openConsole('models');
      const { page } = watched;
      await page.locator('.installed-list [data-model="tiny-random-llama.gguf"]').waitFor();
      expect(await page.locator('.test-model-warning').isVisible()).to.equal(true);
      await page.getByLabel('Model URL').fill(`${base}/models/console-test.gguf`);
      await page.getByLabel('SHA-256').fill(SHA256);
      await page.getByRole('button', { name: 'Install from URL' }).click();
      const install = page.locator('.install-progress');
      await install.locator('.install-numbers', { hasText: `of ${formatBytes(FILE.length)}` }).waitFor();
      await firstStalled;
      expect(await install.getByRole('progressbar').count()).to.equal(1);
      await watched.screenshot('install-progress');
      await install.getByRole('button', { name: 'Cancel install' }).click();
      await install.locator('xpath=self::*[@data-state="cancelled"]').waitFor();
      expect(await install.getByRole('status').textContent()).to.equal('Install cancelled. The partial download is kept: installing again resumes it.');

      await page.getByRole('button', { name: 'Install from URL' }).click();
      await install.locator('xpath=self::*[@data-state="installed"]').waitFor();
      expect(await install.getByRole('status').textContent()).to.equal('Installed console-test.gguf.');
      expect(await install.locator('progress').evaluate((p: HTMLProgressElement) => p.value)).to.equal(1);
      await page.locator('.installed-list [data-model="console-test.gguf"]').waitFor();
      expect(requests).to.equal(2);

      // Select loads it (the previous model served until then); the test-model warning goes with the test model.
      await page.getByRole('button', { name: 'Select console-test.gguf' }).click();
      await page.locator('.form-status', { hasText: 'Loaded console-test.gguf.' }).waitFor();
      await page.locator('[data-field="header-model"]', { hasText: 'console-test.gguf' }).waitFor();
      expect(await page.locator('.test-model-warning').isVisible()).to.equal(false);
      expect(await page.locator('.installed-list [data-model="console-test.gguf"] .tag').textContent()).to.equal('loaded');
      expect(host.host.bindings.model?.name).to.equal('console-test.gguf');
      await page.getByRole('button', { name: 'Select tiny-random-llama.gguf' }).click();
      await page.locator('[data-field="header-model"]', { hasText: 'tiny-random-llama.gguf' }).waitFor();
      expect(await page.locator('.test-model-warning').isVisible()).to.equal(true);
      expect(watched.errors).to.deep.equal([]);
      await watched.close();
    });
  });

  it('shows what the host is doing from GET /status: busy slots, the queue, recent generations and reloads', async () => {
    const watched = await openConsole();
    const { page } = watched;
    const status = page.getByRole('tabpanel', { name: 'Status' });
    const facts = status.locator('.facts');
    // Another client holds the only slot (a workflow that generates until cancelled); the console's turn waits in
    // the queue (max_queue 1).
    const holderId = await mountOnce(HOLDER_PATH);
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const holder = observer.generate('hold', { personality: holderId, onMessage: () => holding() });
    await held;
    const queued = hostReceived('generate_text');
    await sendPrompt(page, 0, 'Once upon a time', { 'Max tokens': '4' });
    await queued;
    expect(host.host.generation.status().queue.depth).to.equal(1);
    await page.getByRole('tab', { name: 'Status' }).click();
    await status.getByRole('button', { name: 'Refresh' }).click();
    await facts.locator('dd', { hasText: '1 waiting' }).waitFor();
    expect(await facts.textContent()).to.contain('Slots in use1 of 1').and.contain('Queue1 waiting');
    await watched.screenshot('status-busy');
    await holder.cancel();
    await holder.text.catch(() => undefined);
    await page.locator('.turn-assistant[data-state="done"]').waitFor({ state: 'attached' }); // its turn came; the tab refreshes after it
    await facts.locator('dd', { hasText: '0 waiting' }).waitFor();
    expect(await facts.textContent()).to.contain('Slots in use0 of 1');

    // A reload, so that the list has one made by this test.
    const reloaded = next(observer.socket as never, 'plugin_reloaded', 30_000);
    await writeFile(join(demoFolder, 'scripts', 'processor.ts'), `${processorSource}\n// saved again\n`);
    await reloaded;
    await writeFile(join(demoFolder, 'scripts', 'processor.ts'), processorSource);
    await next(observer.socket as never, 'plugin_reloaded', 30_000);

    // What the tab shows is what the route says, newest first (times in the browser's locale).
    const report = (await (await fetch(`${host.url}/status`)).json()) as StatusReport;
    // (No named functions inside: the test's compiler would wrap them in a helper the page does not have.)
    const expected = await page.evaluate((r: StatusReport) => {
      return {
        generations: [...r.recent_generations].reverse().map((g) => [
          new Date(g.ended_at).toLocaleTimeString(), g.mode, g.personality ?? '', g.transport, String(g.prompt_tokens), String(g.completion_tokens),
          g.tokens_per_s === null ? '—' : g.tokens_per_s.toFixed(1), `${g.outcome}${g.error ? ` (${g.error})` : ''}`,
        ]),
        reloads: [...r.reloads].reverse().map((x) => `${new Date(x.at).toLocaleTimeString()} ${x.kind} ${x.name}: ${x.ok ? 'reloaded' : `failed${x.error ? `: ${x.error}` : ''}`}`),
      };
    }, report);
    await status.getByRole('button', { name: 'Refresh' }).click();
    const shown = () =>
      page.evaluate(() => ({
        generations: [...document.querySelectorAll('.status table.generations tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
        reloads: [...document.querySelectorAll('.status .reloads li')].map((li) => li.textContent),
      }));
    await page.waitForFunction((want) => {
      const rows = [...document.querySelectorAll('.status .reloads li')].map((li) => li.textContent);
      return JSON.stringify(rows) === JSON.stringify(want);
    }, expected.reloads);
    expect(await shown()).to.deep.equal(expected);
    // The newest two: the console's turn, and the other client's generation it waited for. Their order is not
    // fixed: a cancel frees the slot at once, so the console's turn may end before the cancelled one has unwound.
    const newest = expected.generations.slice(0, 2);
    const summary = (g: string[]) => g.slice(1, 4).concat(g[7]!);
    expect(newest.map(summary).sort()).to.deep.equal([['personality', HOLDER_PATH, 'socket', 'cancelled'], ['raw', '', 'socket', 'done']]);
    expect(Number(newest.find((g) => g[1] === 'raw')![5])).to.be.within(1, 4);
    expect(expected.reloads[0]).to.contain(`personality ${DEMO_NAME}: reloaded`);
    expect(await status.locator('li', { hasText: DEMO_PATH }).textContent()).to.contain(DEMO_NAME);
    expect(await status.locator('.warning').textContent()).to.contain('random-weight test model');
    await watched.screenshot('status');
    expect(watched.errors).to.deep.equal([]);
    await watched.close();

    // A host whose /status fails (an older host answers 404): the tab falls back to /health and the socket.
    const fallback = await browser.open('about:blank');
    await fallback.page.route('**/status', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"status":false,"error":"not found"}' }));
    await fallback.page.goto(`${host.url}/#status`);
    const panel = fallback.page.getByRole('tabpanel', { name: 'Status' });
    await panel.locator('.facts dd', { hasText: 'tiny-random-llama.gguf' }).waitFor();
    expect(await panel.locator('.status > p.hint').textContent()).to.equal('This host has no GET /status: slots, queue and generation speeds are not shown.');
    expect(await panel.locator('.facts').textContent()).not.to.contain('Slots in use');
    expect(fallback.errors.filter((e) => !/status of 404/.test(e))).to.deep.equal([]);
    await fallback.close();
  });

  it('works at phone width and with the keyboard alone', async () => {
    const watched = await openConsole('', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const { page } = watched;
    /** Controls on screen with no accessible name. */
    const unlabelled = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('input, select, textarea, button')]
          .filter((el) => {
            const e = el as HTMLElement & { labels?: NodeListOf<HTMLLabelElement> };
            if (!e.checkVisibility()) return false;
            return !(e.labels && e.labels.length > 0) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !(e.textContent ?? '').trim();
          })
          .map((el) => el.outerHTML.slice(0, 80)),
      );
    // Each tab, reached with the arrow keys once its content has loaded: nothing wider than the screen, and
    // every control labelled.
    const loaded: Record<string, string> = {
      Chat: '.chat textarea',
      Personalities: '.zoo-entry',
      Models: '.installed-list li',
      Status: '.status .facts dd',
    };
    await page.getByRole('tab', { name: 'Chat' }).focus();
    for (const [i, [tab, content]] of Object.entries(loaded).entries()) {
      if (i > 0) await page.keyboard.press('ArrowRight');
      expect(await page.getByRole('tab', { name: tab }).getAttribute('aria-selected'), tab).to.equal('true');
      expect(await page.evaluate(() => document.activeElement?.textContent), tab).to.equal(tab);
      await page.locator(content).first().waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), tab).to.be.at.most(390);
      expect(await unlabelled(), tab).to.deep.equal([]);
      if (tab === 'Status') await watched.screenshot('phone-status');
    }
    await page.keyboard.press('Home');
    expect(await page.getByRole('tab', { name: 'Chat' }).getAttribute('aria-selected')).to.equal('true');
    await page.getByRole('textbox', { name: 'Message' }).focus();
    await page.keyboard.type('hi');
    await page.keyboard.press('Enter');
    await page.locator('.turn-assistant[data-state="done"]').waitFor();
    await watched.screenshot('phone');
    expect(watched.errors).to.deep.equal([]);
    await watched.close();
  });

  it('asks for the API key of a host that has one, says when a key is wrong, and keeps it for the tab', async () => {
    const guarded = await startTestHost({ host: '0.0.0.0', config: { api_key: 'console-key' } });
    try {
      // 127.0.0.2 is not in the default allowed_origins: the host's own page is allowed whatever its address.
      const watched = await browser.open(`http://127.0.0.2:${guarded.port}/`);
      const { page } = watched;
      const dialog = page.getByRole('dialog', { name: 'API key' });
      await dialog.waitFor();
      expect(await page.locator('.connection').textContent()).to.equal('refused: this host needs its API key');
      expect(await dialog.locator('#api-key-reason').textContent()).to.equal('This host needs its API key.');
      await watched.screenshot('api-key');
      // The typed client in this browser says why it was refused over polling too: the status travels as the
      // transport error's description (the XHR in its context is aborted by then and reads 0).
      const bundle = await readFile(fileURLToPath(new URL('../dist/client/browser.js', import.meta.url)), 'utf8');
      await page.route('**/test-only/client.js', (route) => route.fulfill({ contentType: 'text/javascript', body: bundle }));
      // (A request after the failed connect reads the error again, once the XHR was aborted.)
      const pollingErrors = (await page.evaluate(`(async () => {
        const { LollmsClient } = await import('/test-only/client.js');
        const client = new LollmsClient({ url: location.origin, transports: ['polling'], socketOptions: { reconnection: false } });
        const failure = (promise) => promise.then(() => 'succeeded', (error) => error.message);
        try { return [await failure(client.connect()), await failure(client.listBindings())]; } finally { await client.close(); }
      })()`)) as string[];
      expect(pollingErrors).to.have.length(2);
      for (const message of pollingErrors) expect(message).to.contain('the host refused the connection (HTTP 401): unauthorized');
      await dialog.getByLabel('API key of this host').fill('wrong-key');
      await dialog.getByRole('button', { name: 'Use this key' }).click();
      await dialog.locator('#api-key-reason', { hasText: 'The host refused this key.' }).waitFor();
      await dialog.getByLabel('API key of this host').fill('console-key');
      await dialog.getByRole('button', { name: 'Use this key' }).click();
      await page.locator('.connection[data-state="connected"]').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('lollms-host.api-key'))).to.equal('console-key');
      // The overview, served without the key, fills in once the key works.
      await page.locator('#overview [data-field="model"]', { hasText: 'tiny-random-llama.gguf' }).waitFor();
      // HTTP reads carry it too.
      await page.getByRole('tab', { name: 'Models' }).click();
      await page.locator('.installed-list [data-model="tiny-random-llama.gguf"]').waitFor();
      await page.getByRole('tab', { name: 'Status' }).click();
      await page.locator('.status .facts dd', { hasText: '0 of 1' }).waitFor();
      // A reload of the tab keeps it.
      await page.reload();
      await page.locator('.connection[data-state="connected"]').waitFor();
      expect(await dialog.isVisible()).to.equal(false);

      // The operator changes the key while the page is open: once its connection drops, it asks for the new one
      // instead of retrying the old one forever.
      await guarded.host.config.update({ api_key: 'new-key' });
      guarded.host.io.disconnectSockets(true);
      await dialog.locator('#api-key-reason', { hasText: 'The host refused this key.' }).waitFor();
      expect(await page.locator('.connection').textContent()).to.equal('refused: this host needs its API key');
      await dialog.getByLabel('API key of this host').fill('new-key');
      await dialog.getByRole('button', { name: 'Use this key' }).click();
      await page.locator('.connection[data-state="connected"]').waitFor();
      await watched.close();
    } finally {
      await guarded.stop();
    }
  });

  describe('workflow primitives (after the tests that count the mounted personalities)', () => {
    it("asks a processor's questions (ctx.ask) in the conversation: choices as buttons, free text in a field, the time left, and a question nobody answers times out", async () => {
      const id = await mountOnce(ASKER_PATH);
      const watched = await openConsole();
      const { page } = watched;
      const asker = `Asker (personality ${id})`;
      await sendPrompt(page, asker, 'go');
      const answer = page.locator('.turn-assistant').last();
      const trace = page.locator('.trace-turn').first();
      const questions = page.locator('.transcript .ask-card');
      const traced = trace.locator('.trace-ask');

      // 1. Choices: a button each, above the answer bubble, which says it waits for the user; the time left counts down.
      const colour = questions.nth(0);
      await colour.getByRole('group', { name: 'question Which colour?' }).waitFor();
      await answer.locator('xpath=self::*[@data-state="asking"]').waitFor();
      expect(await answer.locator('.turn-status').textContent()).to.equal('waiting for your answer');
      expect(await colour.locator('.turn-who').textContent()).to.equal(`${asker} asks`);
      expect(await page.locator('.transcript > li').evaluateAll((items) => items.map((li) => li.className.split(' ')[1]))).to.deep.equal(['turn-user', 'ask-card', 'turn-assistant']);
      // The host's default wait (sandbox_ask_timeout_ms, 5 minutes), counted from when the question arrived.
      expect(await colour.locator('.ask-countdown').textContent()).to.match(/^[45]:\d\d$/);
      expect(await colour.locator('.ask-deadline').textContent()).to.match(/^answer within [45]:\d\d \(before \d\d:\d\d:\d\d\.\d{3}\); then the workflow goes on without it$/);
      expect(await colour.getByRole('button').allTextContents()).to.deep.equal(['red', 'blue']);
      // The first choice has the focus: the keyboard answers.
      expect(await colour.getByRole('button', { name: 'red' }).evaluate((b) => b === document.activeElement)).to.equal(true);
      // The trace records the question with its choices.
      expect(await traced.nth(0).locator('.text').textContent()).to.equal('Which colour?');
      expect(await traced.nth(0).textContent()).to.contain('(red / blue)').and.contain('waiting for the user');
      await watched.screenshot('ask');
      await colour.getByRole('button', { name: 'blue' }).click();
      await colour.locator('xpath=self::*[@data-state="answered"]').waitFor();
      expect(await colour.locator('.ask-status').textContent()).to.equal('answered: blue');
      expect(await colour.getByRole('button', { name: 'red' }).isDisabled()).to.equal(true);
      expect(await traced.nth(0).locator('.ask-status').textContent()).to.equal('answered: blue');

      // 2. No choices: a text field, sent with Enter.
      const name = questions.nth(1);
      const field = name.getByRole('textbox', { name: 'question What is your name?' });
      await field.waitFor();
      await field.fill('Ada');
      await field.press('Enter');
      await name.locator('xpath=self::*[@data-state="answered"]').waitFor();
      expect(await name.locator('.ask-status').textContent()).to.equal('answered: Ada');

      // 3. Nobody answers: when its time is up the question closes, and the workflow goes on without it.
      const late = questions.nth(2);
      await late.locator('.ask-question', { hasText: 'Anyone still there?' }).waitFor();
      await late.locator('xpath=self::*[@data-state="expired"]').waitFor();
      expect(await late.locator('.ask-status').textContent()).to.equal('timed out: the workflow went on without an answer');
      expect(await late.locator('.ask-countdown').textContent()).to.equal('0:00');
      expect(await late.getByRole('textbox').isDisabled()).to.equal(true);
      expect(await traced.nth(2).getAttribute('data-state')).to.equal('expired');

      // 4. The last one ends the turn; the workflow received every answer.
      await questions.nth(3).getByRole('button', { name: 'finish' }).click();
      await answer.locator('xpath=self::*[@data-state="done"]').waitFor();
      expect(await answer.locator('.turn-text').textContent()).to.equal('colour=blue name=Ada late=LH_ERR_ASK_TIMEOUT done=finish');
      expect(await trace.locator('.trace-step .step-status').textContent()).to.equal('done');
      expect(watched.errors).to.deep.equal([]);
      await watched.close();
    });

    it('closes a question when its turn is cancelled, so it cannot be answered', async () => {
      const id = await mountOnce(ASKER_PATH);
      const watched = await openConsole();
      const { page } = watched;
      await sendPrompt(page, `Asker (personality ${id})`, 'go');
      const question = page.locator('.transcript .ask-card').first();
      await question.getByRole('button', { name: 'red' }).waitFor();
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.locator('.turn-assistant[data-state="cancelled"]').waitFor();
      expect(await question.getAttribute('data-state')).to.equal('closed');
      expect(await question.locator('.ask-status').textContent()).to.equal('not answered: the turn ended');
      expect(await question.getByRole('button', { name: 'red' }).isDisabled()).to.equal(true);
      expect(watched.errors).to.deep.equal([]);
      await watched.close();
    });

    it("shows the tool calls of ctx.chat as steps with the tool's name, arguments and result, and a failing tool as a failed step", async () => {
      const id = await mountOnce(TOOLS_PATH);
      const watched = await openConsole();
      const { page } = watched;
      await sendPrompt(page, `Tool User (personality ${id})`, 'go');
      const answer = page.locator('.turn-assistant').last();
      await answer.locator('xpath=self::*[@data-state="done"]').waitFor();
      // What the workflow's chats saw: the calls the model made and the results the handlers gave.
      const seen = JSON.parse((await answer.locator('.turn-text').textContent())!) as {
        calls: Array<{ id: string; name: string; arguments: { a: number; b: number } }>;
        results: Array<{ id: string; content: string }>;
      };
      expect(seen.calls.map((c) => c.name)).to.include.members(['add', 'divide']);
      expect(seen.calls[0]!.name).to.equal('add');
      const trace = page.locator('.trace-turn').first();
      expect(await trace.locator('.trace-tool').count()).to.equal(seen.calls.length);
      for (const call of seen.calls) {
        const row = trace.locator(`.trace-tool[data-tool-call-id="${call.id}"]`);
        const result = seen.results.find((r) => r.id === call.id)!;
        expect(await row.locator('.tool-name').textContent()).to.equal(call.name);
        expect(await row.locator('.times').textContent()).to.match(/^\d\d:\d\d:\d\d\.\d{3} → \d\d:\d\d:\d\d\.\d{3} · /);
        const args = (await row.locator('.tool-arguments').textContent())!;
        expect(args).to.contain(`a: ${call.arguments.a}`).and.contain(`b: ${call.arguments.b}`);
        if (call.name === 'add') {
          expect(await row.locator('.step-status').textContent()).to.equal('done');
          expect(result.content).to.equal(JSON.stringify({ sum: call.arguments.a + call.arguments.b }));
          expect(await row.locator('.tool-result').textContent()).to.equal(`result: {1 key}sum: ${call.arguments.a + call.arguments.b}`);
        } else {
          expect(await row.locator('.step-status').textContent()).to.equal('failed');
          expect(await row.getAttribute('class')).to.contain('step-failed');
          // The model was told {"error": message}; the trace shows the message.
          expect(JSON.parse(result.content)).to.deep.equal({ error: 'the divider is broken' });
          expect(await row.locator('.tool-result').textContent()).to.equal('error: the divider is broken');
        }
      }
      await watched.screenshot('tool-calls');
      expect(watched.errors).to.deep.equal([]);
      await watched.close();
    });

    it("shows the turn's place in the host's queue while it waits, as the host updates it, and how long it waited", async () => {
      const holderId = await mountOnce(HOLDER_PATH);
      const watched = await openConsole();
      const { page } = watched;
      // The observer holds the only slot; another client waits first (position 0), so the console's turn waits
      // behind it (position 1), then moves up when that one leaves the queue.
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const holder = observer.generate('hold', { personality: holderId, onMessage: () => holding() });
      await held;
      const other = new LollmsClient({ url: host.url, transports: ['websocket'] });
      await other.connect();
      try {
        let placed!: (position: number) => void;
        const otherQueued = new Promise<number>((resolve) => (placed = resolve));
        const waiting = other.generate('Once upon a time', { nPredicts: 4, onQueued: (position) => placed(position) });
        expect(await otherQueued).to.equal(0);
        await sendPrompt(page, 0, 'Once upon a time', { 'Max tokens': '4' });
        const answer = page.locator('.turn-assistant').last();
        const queueRow = page.locator('.trace-turn').first().locator('.trace-queue');
        await queueRow.locator('.text', { hasText: 'position 1: 1 request before this one' }).waitFor();
        expect(await answer.locator('.turn-status').textContent()).to.equal('queued: position 1');
        expect(await answer.getAttribute('aria-busy')).to.equal('true');
        expect(await page.locator('.trace-turn').first().locator('.trace-state').textContent()).to.equal('queued: position 1');
        await watched.screenshot('queued');

        await waiting.cancel();
        await waiting.text.catch(() => undefined);
        await queueRow.locator('.text', { hasText: 'next: starts with the next free slot' }).waitFor();
        expect(await answer.locator('.turn-status').textContent()).to.equal('queued: next in line');
        expect(await queueRow.locator('.times').textContent()).to.match(/^waiting since \d\d:\d\d:\d\d\.\d{3}$/);

        await holder.cancel();
        await holder.text.catch(() => undefined);
        await answer.locator('xpath=self::*[@data-state="done"]').waitFor();
        expect(await queueRow.locator('.text').textContent()).to.equal('waited for a free slot');
        expect(await queueRow.locator('.times').textContent()).to.match(/^\d\d:\d\d:\d\d\.\d{3} → \d\d:\d\d:\d\d\.\d{3} · /);
        expect(await queueRow.count()).to.equal(1);
        expect(watched.errors).to.deep.equal([]);
      } finally {
        await other.close();
      }
      await watched.close();
    });
  });
});
