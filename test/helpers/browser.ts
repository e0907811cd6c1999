/**
 * Browser tests: playwright-core driving Debian's `chromium` (no browser download: playwright's own browser
 * builds cannot be fetched on these machines). `ensureChromium()` installs the package with apt-get when it is
 * missing, so a fresh machine (and `.ci/run`) needs no manual step; when it cannot, it says what to do.
 *
 * ```ts
 * const browser = await launchBrowser();
 * const page = await browser.open(`${host.url}/`);
 * ...
 * expect(page.errors).to.deep.equal([]);
 * await page.screenshot('home');
 * await browser.close();
 * ```
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type ConsoleMessage, type Page } from 'playwright-core';
import { PACKAGE_ROOT } from '../../core/util/package-root.js';

const run = promisify(execFile);

/** The Chromium binary: `LOLLMS_TEST_CHROMIUM`, else Debian's. */
export const CHROMIUM_PATH = process.env.LOLLMS_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where tests write screenshots (gitignored; made on demand). */
export const SCREENSHOTS_DIR = join(PACKAGE_ROOT, 'test-results', 'screenshots');

/**
 * Flags known to work here. The network ones matter: the machines have no network but two registries, and a
 * Chromium that phones home gets many refused connections at every start. playwright gives each launch a fresh
 * temporary profile (`--user-data-dir`) and removes it on close.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** The apt-get install can take minutes on a fresh machine: give the hook that calls `ensureChromium` this long. */
export const CHROMIUM_INSTALL_TIMEOUT_MS = 15 * 60_000;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let installing: Promise<string> | undefined;

/**
 * The Chromium binary's path, installing Debian's `chromium` (and a font, for readable screenshots) with apt-get
 * when it is missing. Throws an error that says what to do when that is not possible.
 */
export function ensureChromium(): Promise<string> {
  installing ??= (async () => {
    if (isExecutable(CHROMIUM_PATH)) return CHROMIUM_PATH;
    const howTo = `install it with "apt-get install -y chromium fonts-liberation" (as root), or point LOLLMS_TEST_CHROMIUM at a Chromium binary`;
    if (process.env.LOLLMS_TEST_CHROMIUM) throw new Error(`LOLLMS_TEST_CHROMIUM=${CHROMIUM_PATH} is not an executable file`);
    if (process.getuid?.() !== 0) throw new Error(`the browser tests need ${CHROMIUM_PATH}, and only root can install it: ${howTo}`);
    if (!isExecutable('/usr/bin/apt-get')) throw new Error(`the browser tests need ${CHROMIUM_PATH} and this machine has no apt-get: ${howTo}`);
    process.stderr.write(`browser tests: ${CHROMIUM_PATH} is missing; installing Debian's chromium with apt-get (once per machine)\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const options = { env, maxBuffer: 64 * 1024 * 1024, timeout: CHROMIUM_INSTALL_TIMEOUT_MS - 30_000 };
    try {
      await run('apt-get', ['update'], options);
      await run('apt-get', ['install', '-y', 'chromium', 'fonts-liberation'], options);
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`apt-get could not install chromium (${e.message.split('\n')[0]}): ${howTo}\n${(e.stderr ?? '').slice(-2000)}`);
    }
    if (!isExecutable(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium, but ${CHROMIUM_PATH} is still missing: ${howTo}`);
    return CHROMIUM_PATH;
  })();
  installing.catch(() => (installing = undefined));
  return installing;
}

let built: Promise<void> | undefined;

/**
 * Build the browser bundles (the typed client's and the console's) from the sources under test, once per run:
 * `npm test` builds them too, but a single test file run from an editor must not test a stale `dist/`.
 */
export function buildConsole(): Promise<void> {
  built ??= run('npm', ['run', '--silent', 'build:browser'], { cwd: PACKAGE_ROOT, maxBuffer: 16 * 1024 * 1024 }).then(
    () => undefined,
    (error: { stderr?: string; message: string }) => {
      built = undefined;
      throw new Error(`npm run build:browser failed: ${error.stderr || error.message}`);
    },
  );
  return built;
}

/** A page under test, with what went wrong in it. */
export interface WatchedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Console errors, uncaught exceptions and failed requests of the page, in order. */
  readonly errors: string[];
  /** Every console message, `type: text`, for diagnostics. */
  readonly console: string[];
  /** Write `test-results/screenshots/<name>.png` (the folder is made on demand); returns the path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface OpenOptions extends BrowserContextOptions {
  /** Default 1280x800. */
  viewport?: { width: number; height: number };
}

/** A launched Chromium. */
export interface TestBrowser {
  readonly browser: Browser;
  /** A new context (own cookies and storage) with one page at `url`, watched for errors. */
  open(url: string, options?: OpenOptions): Promise<WatchedPage>;
  close(): Promise<void>;
}

/** Launch headless Chromium (installing it first when needed). */
export async function launchBrowser(): Promise<TestBrowser> {
  const executablePath = await ensureChromium();
  const browser = await chromium.launch({ executablePath, headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS });
  const pages = new Set<WatchedPage>();
  return {
    browser,
    async open(url, options = {}) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
      const page = await context.newPage();
      const errors: string[] = [];
      const consoleLines: string[] = [];
      page.on('console', (message: ConsoleMessage) => {
        consoleLines.push(`${message.type()}: ${message.text()}`);
        if (message.type() === 'error') errors.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      page.on('requestfailed', (request) => {
        // A navigation away or a closed socket aborts requests on purpose; anything else is a failure.
        const failure = request.failure()?.errorText ?? '';
        if (!failure.includes('ERR_ABORTED')) errors.push(`request failed: ${request.method()} ${request.url()}: ${failure}`);
      });
      const watched: WatchedPage = {
        page,
        context,
        errors,
        console: consoleLines,
        async screenshot(name) {
          await mkdir(SCREENSHOTS_DIR, { recursive: true });
          const path = join(SCREENSHOTS_DIR, `${name}.png`);
          await page.screenshot({ path, fullPage: false });
          return path;
        },
        async close() {
          pages.delete(watched);
          await context.close();
        },
      };
      pages.add(watched);
      await page.goto(url);
      return watched;
    },
    async close() {
      for (const page of [...pages]) await page.close().catch(() => {});
      await browser.close();
    },
  };
}
