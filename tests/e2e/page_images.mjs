// Opens a wiki page in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// and reports the images of its content as a person's browser loaded them; saves a screenshot.
//
// Usage: node page_images.mjs URL SCREENSHOT.png
// Prints one JSON object: {"status": HTTP status, "images": [{"src", "complete", "naturalWidth",
// "naturalHeight", "pixels": [[r, g, b, a] at the four corners]}]}. Exits non-zero (with a
// sentence on stderr) when the page cannot be opened.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node page_images.mjs URL SCREENSHOT.png');
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), 'wikisync-e2e-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1024, height: 768 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let code = 1;
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const response = await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  const images = await page.evaluate(() => {
    const content = document.querySelector('div.page') ?? document.body;
    return [...content.querySelectorAll('img')].map((img) => {
      let pixels = [];
      if (img.complete && img.naturalWidth > 0) {
        // the decoded image itself (same origin, so its pixels can be read)
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const w = img.naturalWidth - 1;
        const h = img.naturalHeight - 1;
        pixels = [[0, 0], [w, 0], [0, h], [w, h]].map(([x, y]) => [...ctx.getImageData(x, y, 1, 1).data]);
      }
      return {
        src: img.currentSrc || img.src,
        complete: img.complete,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        pixels,
      };
    });
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ status: response?.status() ?? 0, images }));
  code = 0;
} catch (e) {
  console.error(`page_images: ${url}: ${e.message}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
