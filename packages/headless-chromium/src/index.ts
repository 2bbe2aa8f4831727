import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export type { BrowserContext, Page } from 'playwright-core';

/** Debian's `chromium` package (installed by scripts/install-system-deps.sh); CHROMIUM_PATH overrides. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * The machine's network is closed: without the background-networking flags Chromium keeps
 * dialling Google's hosts and gets refused, many connections at a time. Tests run as root, which
 * Chromium's sandbox refuses, and there is no GPU.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface HeadlessChromium {
  readonly context: BrowserContext;
  /** Chromium's version, as the browser reports it (e.g. `156.0.8078.108`). */
  readonly version: string;
  /** The profile directory, removed by `close`. */
  readonly profileDir: string;
  /**
   * A new page that records uncaught page errors and console errors (a page's own and its
   * workers'), so a test that fails can say what went wrong inside the browser.
   */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  readonly executablePath?: string;
  /** How long Chromium may take to start (ms). */
  readonly timeoutMs?: number;
  /** Where the profile directory is made (default: the OS's temporary directory). */
  readonly profileParent?: string;
}

/**
 * Starts Debian's Chromium headless with a fresh, empty profile of its own. A Chromium that is
 * missing or does not start is an error that says why and what to do: a browser test must fail
 * then, never pass by skipping.
 */
export async function launchChromium(options: LaunchOptions = {}): Promise<HeadlessChromium> {
  const executablePath = options.executablePath ?? process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM_PATH;
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is not installed at ${executablePath}: run 'bash scripts/install-system-deps.sh' ` +
        `(the README's test command runs it), or set CHROMIUM_PATH to a Chromium binary.`,
    );
  }
  const profile = await mkdtemp(join(options.profileParent ?? tmpdir(), 'libpaxos-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      chromiumSandbox: false,
      args: [...CHROMIUM_ARGS],
      // Chromium keeps crash reports under $XDG_CONFIG_HOME and GLib a dconf file under
      // $XDG_CACHE_HOME whatever the profile: both go into the profile, which close() removes.
      env: { ...process.env, XDG_CONFIG_HOME: join(profile, 'config'), XDG_CACHE_HOME: join(profile, 'cache') },
      timeout: options.timeoutMs ?? 60_000,
    });
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(`Chromium at ${executablePath} did not start: ${(e as Error).message}`);
  }
  const close = async (): Promise<void> => {
    try {
      await context.close();
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  };
  try {
    const version = await browserVersion(context);
    return {
      context,
      version,
      profileDir: profile,
      async newPage() {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
        });
        return { page, errors };
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Asks the browser itself (DevTools protocol), so the version is the one that ran. */
async function browserVersion(context: BrowserContext): Promise<string> {
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(page);
  try {
    const { product } = (await cdp.send('Browser.getVersion')) as { product: string };
    return product.replace(/^[A-Za-z]+\//, '');
  } finally {
    await cdp.detach();
  }
}
