// Runs the shared suite in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core), the package served from a local static server. Prints one line per test
// and a summary like node --test's; exits non-zero on any failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './serve.js';

const server = await startServer();
const profile = mkdtempSync(join(tmpdir(), 'wikisync-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let failed = 1;
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (e) => console.error(`page error: ${e}`));
  await page.goto(`${server.url}bindings-js/test/browser.html`);
  await page.waitForFunction(() => window.__results !== undefined, null, { timeout: 120_000 });
  const results = await page.evaluate(() => window.__results);
  const version = browser.browser()?.version() ?? '';
  for (const t of results.tests) {
    console.log(t.ok ? `ok - ${t.name} (${t.ms.toFixed(1)} ms)` : `not ok - ${t.name}\n  ${t.error}`);
  }
  console.log(`# chromium ${version}`);
  console.log(`# tests ${results.tests.length}`);
  console.log(`# pass ${results.passed}`);
  console.log(`# fail ${results.failed}`);
  failed = results.failed;
} finally {
  await browser.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed === 0 ? 0 : 1);
