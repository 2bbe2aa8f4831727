import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/index.js';

let parent = '';
beforeEach(() => {
  parent = mkdtempSync(join(tmpdir(), 'headless-chromium-test-'));
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

describe('launchChromium', () => {
  it('names the missing binary and the install script instead of skipping', async () => {
    await expect(launchChromium({ executablePath: '/nonexistent/chromium', profileParent: parent })).rejects.toThrow(
      /Chromium is not installed at \/nonexistent\/chromium: run 'bash scripts\/install-system-deps.sh'/,
    );
  }, 90_000);

  it('says why a binary that is not Chromium did not start, and leaves no profile behind', async () => {
    await expect(launchChromium({ executablePath: '/bin/false', timeoutMs: 10_000, profileParent: parent })).rejects.toThrow(
      /Chromium at \/bin\/false did not start/,
    );
    expect(readdirSync(parent)).toEqual([]);
  }, 90_000);

  it('starts headless Chromium, reports its version and removes its profile on close', async () => {
    const browser = await launchChromium({ profileParent: parent });
    try {
      expect(browser.version).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(existsSync(browser.profileDir)).toBe(true);
      const { page, errors } = await browser.newPage();
      await page.setContent('<p id="x">ok</p><script>console.error("boom")</script>');
      expect(await page.textContent('#x')).toBe('ok');
      expect(errors).toEqual(['console error: boom']);
    } finally {
      await browser.close();
    }
    expect(readdirSync(parent)).toEqual([]);
  }, 90_000);
});
