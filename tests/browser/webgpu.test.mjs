// The page in headless Chromium with --enable-unsafe-webgpu: without a GPU,
// Chromium offers its SwiftShader software adapter. By default the page
// prefers its CPU path over a software adapter (it is faster), so the test
// asks for WebGPU with ?backend=webgpu and burn's WebGPU path runs for real
// (slowly: hence the 128x128 input). Checks (a) that the page says it used
// WebGPU on a fallback adapter and that its mask equals the native CLI's mask
// for the same weights.
//
// Input: tests/data/browser/slice-24-crop128.png (made by
// tests/data/browser/make_fixtures.py).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, dropFiles, download, nativeMask, decodePng, agreement, cropPath, benchReport,
  checkFineTuneReport,
} from './helpers.mjs';
import { dailyToolTests } from './features.mjs';
import { annotationTests } from './annotation.mjs';
import { fineTuneTests } from './finetune.mjs';

let server;
let browser;
let session;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ webgpu: true });
  session = await openPage(browser, `${server.url}?backend=webgpu`);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('WebGPU runs on the SwiftShader adapter, reported as software', async () => {
  const backend = await session.page.getByTestId('backend').textContent();
  assert.match(backend, /^WebGPU on .*swiftshader/i);
  assert.match(backend, /software/);
});

test('by default the page prefers its CPU path to a software adapter, and says so', async () => {
  const page = await session.context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => !/starting/.test(document.querySelector('[data-testid=backend]').textContent));
  assert.match(await page.getByTestId('backend').textContent(), /^CPU .*swiftshader.* software/i);
  await page.close();
});

test('the WebGPU mask equals the native CLI mask', async (t) => {
  const results = await dropFiles(session.page, [cropPath], 1, 280_000);
  const card = results.last();
  assert.equal(await card.getAttribute('data-state'), 'done', await card.textContent());
  assert.match(await card.locator('.fact-backend').textContent(), /WebGPU/, 'no silent fallback to the CPU');
  const web = decodePng((await download(session.page, card.getByTestId('download-mask'))).bytes);
  const native = decodePng(nativeMask(cropPath));
  const same = agreement(web, native);
  t.diagnostic(`${(100 * same).toFixed(3)} % of pixels agree with the native CLI`);
  assert.ok(same >= 0.995, `only ${(100 * same).toFixed(2)} % of pixels agree`);
  assert.deepEqual(session.errors, []);
});

dailyToolTests({ browser: () => browser, url: () => server.url + '?backend=webgpu', webgpu: true });

test('fine-tuning runs in the worker on WebGPU: three steps of the default weights give finite losses and a weights file', async () => {
  // The benchmark mode's fine-tuning (www/bench.js), small: batch 2 of 64 x 64 crops.
  const report = await benchReport(browser, server.url, 'bench=webgpu&runs=0&finetune=3&ftbatch=2&ftcrop=64');
  checkFineTuneReport(report, 'webgpu', 3);
});

annotationTests({ browser: () => browser, url: () => server.url + '?backend=webgpu', webgpu: true });
fineTuneTests({ browser: () => browser, url: () => server.url + '?backend=webgpu', webgpu: true });
