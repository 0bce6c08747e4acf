/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Functions passed to page.evaluate run in the browser, so these files see the DOM types too.
/**
 * A real browser for the web page's end-to-end tests: Debian's Chromium
 * (installed by `scripts/install.sh --with-browser`) driven headless through
 * puppeteer-core, which never downloads a browser of its own. Every page
 * records its script errors and console errors (a CSP violation is one), and
 * each test run saves screenshots to test-results/screenshots/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { PROJECT_ROOT } from '../../config/config';
import { eventually } from './eventually';

export const CHROMIUM = process.env.OTA_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(PROJECT_ROOT, 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: run 'bash scripts/install.sh --with-browser' (as root on Debian it installs ` +
        `the chromium package), or set OTA_CHROMIUM to a Chromium binary`,
    );
  }
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium refuses its sandbox as root; /dev/shm may be small in containers.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu'],
    defaultViewport: { width: 1280, height: 860 },
  });
}

export interface BrowserPage {
  page: Page;
  /** Uncaught script errors and console errors the page raised. */
  errors: string[];
  text(selector: string): Promise<string>;
  rows(table: string): Promise<string[]>;
  attrs(selector: string, name: string): Promise<(string | null)[]>;
  /** The data-focus-key (or tag name) of the focused element. */
  focused(): Promise<string>;
  go(hash: string): Promise<void>;
  waitFor<T>(what: string, fn: () => Promise<T>, ok?: (v: T) => boolean): Promise<T>;
  screenshot(name: string): Promise<void>;
}

export async function openPage(browser: Browser, url: string): Promise<BrowserPage> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err instanceof Error ? err.message : String(err)));
  page.on('console', (msg) => {
    // A refused /v1 call (401, 409) is logged as a failed resource: the API answering, shown by the page itself.
    // The favicon the browser asks for on its own is not the page's.
    const url = msg.location().url ?? '';
    if (msg.type() !== 'error' || /\/v1\/|\/favicon\.ico$/.test(url)) return;
    errors.push(`${msg.text()} (${url})`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return {
    page,
    errors,
    text: (selector) => page.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector),
    rows: (table) =>
      page.evaluate(
        (t) => [...document.querySelectorAll(`#${t} tbody tr`)].map((tr) => (tr as HTMLElement).innerText),
        table,
      ),
    attrs: (selector, name) =>
      page.evaluate((s, n) => [...document.querySelectorAll(s)].map((e) => e.getAttribute(n)), selector, name),
    focused: () =>
      page.evaluate(() => {
        const el = document.activeElement;
        return el?.getAttribute('data-focus-key') ?? el?.tagName.toLowerCase() ?? '';
      }),
    go: async (hash) => {
      await page.evaluate((h) => {
        location.hash = h;
      }, hash);
    },
    waitFor: (what, fn, ok = Boolean) => eventually(what, fn, ok, 15_000),
    screenshot: async (name) => {
      await page.bringToFront();
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
  };
}
