// Takes docs/screenshot.png: the page after segmenting a sample slice, as a
// first-time visitor sees it (not a test: `node --test` skips this file).
// Usage, from the repository root after scripts/build-web.sh and
// cargo build --release:
//
//   node tests/browser/screenshot.mjs [output.png]

import { join } from 'node:path';
import { startServer, launchBrowser, repoRoot } from './helpers.mjs';

const output = process.argv[2] || join(repoRoot, 'docs', 'screenshot.png');
const server = await startServer();
const browser = await launchBrowser({ webgpu: false });
try {
  const page = await browser.newPage({ viewport: { width: 1180, height: 1000 }, deviceScaleFactor: 1 });
  await page.goto(server.url);
  await page.waitForFunction(() => /^Ready/.test(document.querySelector('[data-testid=status]').textContent), null, { timeout: 120_000 });
  await page.click('#sample-button');
  await page.waitForSelector('[data-testid=result][data-state=done]', { timeout: 300_000 });
  await page.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
} finally {
  await browser.close();
  await server.stop();
}
