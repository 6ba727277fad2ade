// Takes the screenshots in docs/ as a first-time visitor sees the page (not a
// test: `node --test` skips this file). Usage, from the repository root after
// scripts/build-web.sh and cargo build --release:
//
//   node tests/browser/screenshot.mjs [sample] [batch] [zoom] [phone] [edit] [finetune]   (all six without arguments)
//
// - sample: docs/screenshot.png, the page after segmenting a sample slice;
// - batch:  docs/batch-30.png, a batch of 30 images (28 crops of the sample
//   slices, one image too small and one that is not an image) while it runs;
// - zoom:   docs/zoom-5000x3000.png, a 5000 x 3000 image (the three sample
//   slices mirrored side by side, made here) zoomed in on its membranes;
// - phone:  docs/phone.png, the page with a result on a 390 px wide screen;
// - edit:   docs/edit.png, the annotation editor on a sample slice, zoomed in,
//   the network's mask partly corrected with the mouse;
// - finetune: docs/finetune.png, the fine-tuning panel while it runs: sample slice
//   24 with inverted contrast (a shift the default weights fail on), annotated with
//   its ground-truth mask (data/isbi2012/train/masks/24.png), batch 2 of 256 x 256
//   crops on the CPU engine, after 20 steps (about a minute on 2 cores).
//
// The inputs are made here from www/samples/ (ISBI 2012 slices 24-26). The 5000 x 3000
// segmentation runs on the CPU engine in wasm and takes a few minutes on 2 cores.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, repoRoot, decodePng, grayPng } from './helpers.mjs';

const wanted = process.argv.slice(2);
const want = (name) => wanted.length === 0 || wanted.includes(name);
const docs = join(repoRoot, 'docs');
const slices = ['24', '25', '26'].map((n) => decodePng(readFileSync(join(repoRoot, 'www', 'samples', `slice-${n}.png`))));

/** `width` x `height` of the sample slices side by side, every other one mirrored so the seams match. */
function mosaic(width, height) {
  const out = new Uint8Array(width * height);
  const n = 512;
  for (let y = 0; y < height; y++) {
    const ty = Math.floor(y / n);
    const sy = ty % 2 ? n - 1 - (y % n) : y % n;
    for (let x = 0; x < width; x++) {
      const tx = Math.floor(x / n);
      const sx = tx % 2 ? n - 1 - (x % n) : x % n;
      out[y * width + x] = slices[(tx + 2 * ty) % 3].data[sy * n + sx];
    }
  }
  return out;
}

/** A `size` x `size` crop of sample slice `k` from (`x0`, `y0`). */
function crop(k, x0, y0, size) {
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out[y * size + x] = slices[k].data[(y0 + y) * 512 + x0 + x];
  return out;
}

async function open(browser, viewport) {
  const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
  await page.goto(server.url);
  await page.waitForFunction(() => /^Ready/.test(document.querySelector('[data-testid=status]').textContent), null, { timeout: 120_000 });
  return page;
}

const server = await startServer();
const browser = await launchBrowser({ webgpu: false });
try {
  if (want('sample')) {
    const page = await open(browser, { width: 1180, height: 1000 });
    await page.click('#sample-button');
    await page.waitForSelector('[data-testid=result][data-state=done] [data-testid=viewer][data-ready=true]', { timeout: 300_000 });
    await page.screenshot({ path: join(docs, 'screenshot.png'), fullPage: true });
    console.log('wrote docs/screenshot.png');
    await page.close();
  }
  if (want('batch')) {
    const page = await open(browser, { width: 1180, height: 1400 });
    const files = [];
    for (let i = 0; i < 28; i++) {
      const k = i % 3;
      const size = [256, 192, 320][i % 3];
      const x0 = (i * 37) % (512 - size);
      const y0 = (i * 53) % (512 - size);
      files.push({ name: `slice-${24 + k}_crop-${String(i + 1).padStart(2, '0')}.png`, mimeType: 'image/png', buffer: grayPng(size, size, crop(k, x0, y0, size)) });
    }
    files.splice(9, 0, { name: 'thumbnail-8x8.png', mimeType: 'image/png', buffer: grayPng(8, 8, new Uint8Array(64).fill(120)) });
    files.splice(17, 0, { name: 'notes.tif', mimeType: 'image/tiff', buffer: Buffer.from('not an image') });
    await page.getByTestId('file-input').setInputFiles(files);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=result][data-state=done]').length >= 12
      && /left/.test(document.querySelector('[data-testid=batch-progress]').textContent), null, { timeout: 300_000, polling: 100 });
    await page.screenshot({ path: join(docs, 'batch-30.png') });
    console.log('wrote docs/batch-30.png');
    await page.getByTestId('cancel-all').click();
    await page.close();
  }
  if (want('zoom')) {
    const page = await open(browser, { width: 1180, height: 1250 });
    const started = Date.now();
    await page.getByTestId('file-input').setInputFiles([{ name: 'mosaic-5000x3000.png', mimeType: 'image/png', buffer: grayPng(5000, 3000, mosaic(5000, 3000)) }]);
    await page.waitForSelector('[data-testid=result][data-state=done]', { timeout: 900_000 });
    console.log(`5000 x 3000 segmented in ${((Date.now() - started) / 1000).toFixed(1)} s (network ${await page.locator('.fact-time').textContent()}, post-processing ${await page.locator('.fact-post').textContent()})`);
    const card = page.locator('[data-testid=result]').first();
    const viewer = card.getByTestId('viewer');
    await viewer.waitFor();
    await page.locator('[data-testid=result] [data-testid=viewer][data-ready=true]').waitFor({ timeout: 120_000 });
    // Zoomed in on the middle of one of the mosaic's 512 px tiles (away from its seams).
    await card.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await viewer.evaluate((el) => el.viewer.setTransform({ scale: 2.5, cx: 2304, cy: 1300 }));
    const box = await viewer.locator('canvas').boundingBox();
    await page.mouse.move(box.x + box.width * 0.56, box.y + box.height * 0.42);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(docs, 'zoom-5000x3000.png') });
    console.log('wrote docs/zoom-5000x3000.png');
    await page.close();
  }
  if (want('phone')) {
    const page = await open(browser, { width: 390, height: 844 });
    await page.click('#sample-button');
    await page.waitForSelector('[data-testid=result][data-state=done] [data-testid=viewer][data-ready=true]', { timeout: 300_000 });
    await page.screenshot({ path: join(docs, 'phone.png'), fullPage: true });
    console.log('wrote docs/phone.png');
    await page.close();
  }
  if (want('edit')) {
    const page = await open(browser, { width: 1180, height: 1400 });
    await page.click('#sample-button');
    await page.waitForSelector('[data-testid=result][data-state=done] [data-testid=viewer][data-ready=true]', { timeout: 300_000 });
    const card = page.locator('[data-testid=result]').first();
    await card.getByTestId('edit').click();
    const editor = card.getByTestId('editor');
    const viewer = editor.getByTestId('viewer');
    await page.waitForSelector('[data-testid=editor] [data-testid=viewer][data-ready=true]');
    // Its bottom at the bottom of the window, so that the sticky status bar does not cover its top.
    await card.locator('.annotation').evaluate((el) => el.scrollIntoView({ block: 'end' }));
    await viewer.evaluate((el) => el.viewer.setTransform({ scale: 2.5, cx: 256, cy: 200 }));
    const box = await viewer.locator('canvas').boundingBox();
    const stroke = async (tool, size, points) => {
      await viewer.focus();
      await page.keyboard.press(tool);
      await editor.getByTestId('brush-size').fill(String(size));
      await page.mouse.move(box.x + points[0][0] * box.width, box.y + points[0][1] * box.height);
      await page.mouse.down();
      for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 12 });
      await page.mouse.up();
    };
    // Erase a patch back to unlabelled, then paint some cell and a membrane line into it.
    await stroke('e', 40, [[0.30, 0.30], [0.45, 0.35], [0.40, 0.55], [0.28, 0.50]]);
    await stroke('c', 12, [[0.32, 0.36], [0.40, 0.40]]);
    await stroke('m', 4, [[0.27, 0.44], [0.46, 0.47]]);
    await page.mouse.move(box.x + box.width * 0.62, box.y + box.height * 0.4);
    await page.waitForTimeout(300);
    await card.locator('.annotation').screenshot({ path: join(docs, 'edit.png') });
    console.log('wrote docs/edit.png');
    await page.close();
  }
  if (want('finetune')) {
    const page = await open(browser, { width: 1180, height: 1000 });
    const inverted = grayPng(512, 512, slices[0].data.map((v) => 255 - v));
    await page.getByTestId('file-input').setInputFiles([{ name: 'slice-24-inverted.png', mimeType: 'image/png', buffer: inverted }]);
    await page.waitForSelector('[data-testid=result][data-state=done]', { timeout: 300_000 });
    const card = page.locator('[data-testid=result]').first();
    const mask = readFileSync(join(repoRoot, 'data', 'isbi2012', 'train', 'masks', '24.png'));
    await card.getByTestId('annotation-input').setInputFiles({ name: '24.png', mimeType: 'image/png', buffer: mask });
    await page.waitForSelector('[data-testid=result][data-annotation=saved]');
    await page.getByTestId('finetune-start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=finetune-status]').dataset.step) >= 20, null,
      { timeout: 600_000, polling: 500 });
    await page.locator('.finetune').screenshot({ path: join(docs, 'finetune.png') });
    console.log(`wrote docs/finetune.png (${await page.getByTestId('finetune-status').textContent()})`);
    await page.getByTestId('finetune-stop').click();
    await page.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
