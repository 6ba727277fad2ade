// The page in headless Chromium without WebGPU (no --enable-unsafe-webgpu:
// navigator.gpu exists but offers no adapter), so the CPU fallback must run.
// Checks (b) its mask against the native CLI's, (c) a corrupt file among good
// ones, (d) that no request leaves 127.0.0.1 and none follows the page load,
// and (e) that the downloads (mask PNG, ZIP of the batch) hold what they claim.
//
// Inputs: tests/data/browser/slice-24-crop128.png and
// slice-24-two-pages-16bit.tif, made by tests/data/browser/make_fixtures.py.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startServer, launchBrowser, openPage, dropFiles, download, nativeMask, decodePng, readZip, parseCsv, parseTsv,
  agreement, constantPng, cropPath, tiffPath, repoRoot, benchReport, checkFineTuneReport, withoutRelaxedSimd,
  withoutIsolation,
} from './helpers.mjs';
import { dailyToolTests } from './features.mjs';
import { annotationTests } from './annotation.mjs';
import { fineTuneTests } from './finetune.mjs';

let server;
let browser;
let session;
let requestsAtLoad;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ webgpu: false });
  session = await openPage(browser, server.url);
  requestsAtLoad = session.requests.length;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The paths of the wasm modules among `requests` (URLs), each once. */
const wasmLoaded = (requests) => [...new Set(requests.filter((u) => u.endsWith('.wasm')).map((u) => new URL(u).pathname))];

/**
 * Segments the crop on `page` and checks that its mask agrees with the native CLI's on
 * at least 99.5 % of pixels; returns the page's mask.
 */
async function assertNativeMask(t, page) {
  const card = (await dropFiles(page, [cropPath], 1)).last();
  assert.equal(await card.getAttribute('data-state'), 'done', await card.textContent());
  const web = decodePng((await download(page, card.getByTestId('download-mask'))).bytes);
  const same = agreement(web, decodePng(nativeMask(cropPath)));
  t.diagnostic(`${(100 * same).toFixed(3)} % of pixels agree with the native CLI`);
  assert.ok(same >= 0.995, `only ${(100 * same).toFixed(2)} % of pixels agree`);
  return web;
}

test('without WebGPU the CPU fallback runs and says why', async () => {
  const backend = await session.page.getByTestId('backend').textContent();
  assert.match(backend, /^CPU \(WebAssembly, one thread, relaxed SIMD\)/);
  assert.match(backend, /no adapter/);
  assert.deepEqual(wasmLoaded(session.requests), ['/pkg/unetseg_bg.wasm'], 'Chromium runs relaxed SIMD: the pkg/ build is loaded');
});

test('a browser without relaxed SIMD gets the SIMD128 build, which gives the native mask too', async (t) => {
  const plain = await openPage(browser, server.url, withoutRelaxedSimd);
  try {
    assert.equal(await plain.page.evaluate(() => crossOriginIsolated), true, 'unetseg serve isolates the page');
    const backend = await plain.page.getByTestId('backend').textContent();
    assert.match(backend, /^CPU \(WebAssembly, one thread, SIMD128, no relaxed SIMD in this browser\)/);
    assert.deepEqual(wasmLoaded(plain.requests), ['/pkg/simd128/unetseg_bg.wasm']);
    await assertNativeMask(t, plain.page);
    assert.deepEqual(plain.errors, []);
  } finally {
    await plain.context.close();
  }
});

test('served without cross-origin isolation (as GitHub Pages serves it) the page works alike', async (t) => {
  const open = await openPage(browser, server.url, withoutIsolation);
  try {
    assert.equal(await open.page.evaluate(() => crossOriginIsolated), false);
    assert.match(await open.page.getByTestId('backend').textContent(), /^CPU \(WebAssembly, one thread, relaxed SIMD\)/);
    await assertNativeMask(t, open.page);
    assert.deepEqual(open.errors, []);
  } finally {
    await open.context.close();
  }
});

test('the CPU mask equals the native CLI mask', async (t) => {
  const web = await assertNativeMask(t, session.page);
  assert.equal(web.width, 128);
});

test('the sliders re-run only the post-processing', async () => {
  const page = session.page;
  const card = page.locator('[data-testid=result][data-state=done]').first();
  // The card records the slider values of the results it shows in data-params.
  const settled = (params) => page.waitForSelector(`[data-testid=result][data-params="${params}"]`);
  // The probability cut: the threshold moves it, the seed fraction does not.
  const mask = async () => decodePng((await download(page, card.getByTestId('download-cut'))).bytes);
  const white = (image) => image.data.filter((v) => v === 255).length;
  const network = await card.locator('.fact-time').textContent();
  const requests = session.requests.length;
  await settled('auto/0.2');
  const automatic = await mask();
  const cells = await card.locator('.fact-cells').textContent();

  // A lower threshold can only add cell pixels (p > 0.3 includes p > 0.5).
  await card.locator('.threshold').fill('0.3');
  await settled('0.3/0.2');
  assert.equal(await card.locator('.otsu').isChecked(), false);
  assert.ok(white(await mask()) > white(automatic), 'threshold 0.3 adds cell pixels to the mask');

  // Automatic again, and fewer watershed seeds: the cut is the CLI's again.
  await card.locator('.otsu').check();
  await card.locator('.fg-fraction').fill('0.6');
  await settled('auto/0.6');
  assert.deepEqual((await mask()).data, automatic.data);
  await card.locator('.fg-fraction').fill('0.2');
  await settled('auto/0.2');
  assert.equal(await card.locator('.fact-cells').textContent(), cells);

  assert.equal(await card.locator('.fact-time').textContent(), network, 'the network did not run again');
  assert.deepEqual(session.requests.slice(requests).filter((u) => /^https?:/.test(u)), []);
});

test('a corrupt file fails on its own card and the next file still segments', async () => {
  const good = readFileSync(cropPath);
  const files = [
    { name: 'truncated.png', mimeType: 'image/png', buffer: good.subarray(0, 200) },
    { name: 'not-an-image.tif', mimeType: 'image/tiff', buffer: Buffer.from('plain text, not a TIFF') },
    { name: 'after.png', mimeType: 'image/png', buffer: good },
  ];
  const results = await dropFiles(session.page, files, 3);
  const n = await results.count();
  const [truncated, text, after] = [results.nth(n - 3), results.nth(n - 2), results.nth(n - 1)];
  assert.equal(await truncated.getAttribute('data-state'), 'error');
  assert.match(await truncated.textContent(), /truncated\.png/);
  assert.equal(await text.getAttribute('data-state'), 'error');
  assert.match(await text.textContent(), /not a PNG, JPEG or TIFF/);
  assert.equal(await after.getAttribute('data-state'), 'done');
});

test('a 10000x10000 image is refused with a clear message, and the page goes on', async () => {
  const huge = constantPng(10000, 10000, 128);
  const files = [
    { name: 'huge.png', mimeType: 'image/png', buffer: huge },
    { name: 'small.png', mimeType: 'image/png', buffer: readFileSync(cropPath) },
  ];
  const results = await dropFiles(session.page, files, 2);
  const n = await results.count();
  const refused = results.nth(n - 2);
  assert.equal(await refused.getAttribute('data-state'), 'error');
  assert.match(await refused.textContent(), /huge\.png: the image is 10000 x 10000 pixels .* exceeds the limit of 16777216 pixels \(16\.8 megapixels\) per page in the browser/);
  assert.equal(await results.nth(n - 1).getAttribute('data-state'), 'done');
});

test('corrupt weights give a clear error and the loaded model stays; valid ones replace it', async () => {
  const page = session.page;
  const weights = readFileSync(join(repoRoot, 'weights', 'default.safetensors'));
  const modelBefore = await page.locator('#weights').textContent();
  await page.locator('#weights-input').setInputFiles({ name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: weights.subarray(0, 5000) });
  await page.waitForFunction(() => /^Could not use/.test(document.querySelector('[data-testid=status]').textContent));
  const status = page.getByTestId('status');
  assert.match(await status.textContent(), /Could not use these weights: broken\.safetensors: .*Still using default\.safetensors/);
  assert.equal(await status.getAttribute('class'), 'status error');
  assert.equal(await page.locator('#weights').textContent(), modelBefore);

  // A header claiming a network far larger than the file: refused before any allocation.
  const config = JSON.stringify({ depth: 8, base_channels: 4096, padding: 'same', batch_norm: false, in_channels: 1, classes: 2 });
  const header = Buffer.from(JSON.stringify({ __metadata__: { format: 'unetseg-weights-1', unetseg_config: config } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  await page.locator('#weights-input').setInputFiles({ name: 'giant.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.concat([length, header]) });
  await page.waitForFunction(() => /giant\.safetensors: its header describes/.test(document.querySelector('[data-testid=status]').textContent));
  assert.match(await status.textContent(), /Still using default\.safetensors/);

  await page.locator('#weights-input').setInputFiles({ name: 'mine.safetensors', mimeType: 'application/octet-stream', buffer: weights });
  await page.waitForFunction(() => /Now using mine\.safetensors/.test(document.querySelector('[data-testid=status]').textContent));
  assert.match(await page.locator('#weights').textContent(), /^mine\.safetensors \(U-Net/);
});

test('a multi-page 16-bit TIFF gives one result per page', async () => {
  const results = await dropFiles(session.page, [tiffPath], 2);
  const n = await results.count();
  for (const i of [n - 2, n - 1]) {
    const card = results.nth(i);
    assert.equal(await card.getAttribute('data-state'), 'done');
    assert.match(await card.textContent(), /page \d of 2/);
    assert.match(await card.textContent(), /64 × 64/);
  }
});

test('the ZIP holds every result with consistent masks, labels and CSV', async () => {
  const page = session.page;
  const cards = page.locator('[data-testid=result][data-state=done]');
  const doneCount = await cards.count();
  const first = cards.first();
  const shownMask = (await download(page, first.getByTestId('download-mask'))).bytes;
  const shownLabels = await download(page, first.locator('.download-labels'));
  const shownCsv = await download(page, first.locator('.download-csv'));
  const shownCells = Number(await first.locator('.fact-cells').textContent());

  const zip = await download(page, page.getByTestId('download-zip'));
  assert.match(zip.name, /\.zip$/);
  const entries = readZip(zip.bytes);
  // index.tsv lists every image given, failed ones too; the ZIP holds the files of the done ones.
  const index = parseTsv(entries.get('index.tsv').toString('utf8'));
  assert.equal(index.length, await page.locator('[data-testid=result]').count());
  const stems = index.filter((r) => r.status === 'done').map((r) => r.file);
  assert.equal(stems.length, doneCount);
  for (const stem of stems) {
    for (const suffix of ['input.png', 'prob.png', 'cut.png', 'mask.png', 'labels.png', 'labels-colour.png', 'cells.csv']) {
      assert.ok(entries.has(`${stem}/${stem}.${suffix}`), `${stem}.${suffix} missing`);
    }
    const steps = [...entries.keys()].filter((k) => k.startsWith(`${stem}/steps/`));
    assert.ok(steps.length >= 9, `${stem}: only ${steps.length} step images`);
    for (const step of steps) decodePng(entries.get(step));

    const mask = decodePng(entries.get(`${stem}/${stem}.mask.png`));
    assert.ok(mask.data.every((v) => v === 0 || v === 255), 'the mask is binary');
    const labels = decodePng(entries.get(`${stem}/${stem}.labels.png`));
    assert.equal(labels.depth, 16);
    const cut = decodePng(entries.get(`${stem}/${stem}.cut.png`));
    assert.ok(cut.data.every((v) => v === 0 || v === 255), 'the cut is binary');
    const rows = parseCsv(entries.get(`${stem}/${stem}.cells.csv`).toString('utf8'));
    const maxLabel = labels.data.reduce((m, v) => Math.max(m, v), 0);
    assert.equal(rows.length, maxLabel, 'one CSV row per label');
    // Labels sit exactly on the mask (the post-processed interior), and areas add up.
    let labelled = 0;
    for (let i = 0; i < labels.data.length; i++) {
      assert.equal(labels.data[i] > 0, mask.data[i] === 255);
      if (labels.data[i] > 0) labelled++;
    }
    assert.equal(rows.reduce((sum, r) => sum + Number(r.area), 0), labelled);
    const prob = decodePng(entries.get(`${stem}/${stem}.prob.png`));
    assert.equal(prob.depth, 16);
    assert.equal(prob.width, mask.width);
  }
  const [firstStem] = stems;
  assert.deepEqual(entries.get(`${firstStem}/${firstStem}.mask.png`), Buffer.from(shownMask), 'ZIP mask = shown mask');
  assert.equal(shownLabels.name, `${firstStem}.labels.png`);
  assert.deepEqual(entries.get(`${firstStem}/${firstStem}.labels.png`), Buffer.from(shownLabels.bytes));
  assert.equal(shownCsv.name, `${firstStem}.cells.csv`);
  assert.deepEqual(entries.get(`${firstStem}/${firstStem}.cells.csv`), Buffer.from(shownCsv.bytes));
  assert.equal(decodePng(entries.get(`${firstStem}/${firstStem}.labels.png`)).data.reduce((m, v) => Math.max(m, v), 0), shownCells);
});

test('no request leaves 127.0.0.1, and none is made after the page loaded', async () => {
  const host = new URL(server.url).host;
  const outside = session.requests.filter((u) => /^https?:/.test(u) && new URL(u).host !== host);
  assert.deepEqual(outside, []);
  const later = session.requests.slice(requestsAtLoad).filter((u) => /^(https?|wss?):/.test(u));
  assert.deepEqual(later, [], 'requests after load');
  // The page's own files did load through the recorded requests.
  assert.ok(session.requests.some((u) => u.endsWith('/weights/default.safetensors')));
  assert.deepEqual(session.errors, []);
});

dailyToolTests({ browser: () => browser, url: () => server.url, webgpu: false });

test('fine-tuning runs in the worker on the CPU: three steps of the default weights give finite losses and a weights file', async () => {
  // The benchmark mode's fine-tuning (www/bench.js), small: batch 2 of 64 x 64 crops.
  const report = await benchReport(browser, server.url, 'bench=cpu&runs=0&finetune=3&ftbatch=2&ftcrop=64');
  checkFineTuneReport(report, 'cpu', 3);
});

annotationTests({ browser: () => browser, url: () => server.url, webgpu: false });
fineTuneTests({ browser: () => browser, url: () => server.url, webgpu: false });
