// The page as a daily tool (issue 12), checked on both engines: cpu.test.mjs and
// webgpu.test.mjs each call `dailyToolTests` with their browser and server. One
// page per describe block, small inputs made here from the committed 128x128 crop
// (tests/data/browser/slice-24-crop128.png), so SwiftShader stays quick.
//
// Each test is named after the defect of the issue it covers:
//  1. views and downloads follow the settings shown (busy state, downloads wait);
//  2. cancel per image and for the batch, Clear cancels, a warning before leaving;
//  3. results in the order given, the pages of a stack together;
//  4. the mask download is the post-processed mask, the probability cut says so;
//  5. file names keep their Unicode; index.tsv records names, weights, settings;
//  6. one viewer: zoom, pan, nearest-neighbour magnification, sync, cell probe;
//  7. batch: apply to all, remembered settings, progress with estimate, table;
//  8. keyboard and accessibility (WAI-ARIA tabs, visible help, axe-core);
//  9. float32 and planar RGB TIFF, too-small images, drops anywhere on the page.
// And of issue 16 (formats in and out): an OME-TIFF's pixel size shown and used, the
// ImageJ ROI set offered per image and in the ZIP.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  openPage, dropFiles, download, decodePng, readZip, zipDirectory, parseCsv, parseTsv, agreement, settled,
  dropOnto, emPng, emSamples, grayPng, tiff, tiffPath, nativeOutputs, repoRoot,
} from './helpers.mjs';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const weightsBytes = readFileSync(join(repoRoot, 'weights', 'default.safetensors'));

const cards = (page) => page.locator('[data-testid=result]');
const lastCards = async (page, n) => {
  const all = cards(page);
  const count = await all.count();
  return Array.from({ length: n }, (_, i) => all.nth(count - n + i));
};
/** Waits until every card in `list` is in one of `states`. */
const waitStates = (page, list, states, timeout = 120_000) => Promise.all(list.map(async (card) => {
  await page.waitForFunction(([el, s]) => s.includes(el.dataset.state), [await card.elementHandle(), states],
    { timeout, polling: 50 });
}));
const statusText = (page) => page.getByTestId('status').textContent();
/** Accepts the "leave the page?" question that a page with results asks. */
const acceptLeaving = (page) => page.once('dialog', (d) => d.accept());
/** Clicks "Clear results" when there is anything to clear. */
const clearAll = async (page) => {
  if (await page.getByTestId('clear-results').isEnabled()) await page.getByTestId('clear-results').click();
};

/**
 * The tests of issue 12 on the page at `url()` in `browser()` (functions: the
 * caller's `before` sets them up). `webgpu`: the engine is WebGPU (slower per pixel).
 */
export function dailyToolTests({ browser, url, webgpu }) {
  const suffix = webgpu ? ' (WebGPU)' : ' (CPU)';
  // A 16 px wide strip: tiles of 16 x ~650 px, several of them, cheap per tile even on SwiftShader.
  const stripHeight = webgpu ? 2000 : 4000;
  // The side of the images whose content does not matter: smaller on SwiftShader, a software GPU.
  const S = webgpu ? 32 : 64;

  describe(`results follow the settings, can be cancelled, keep their order and names${suffix}`, () => {
    let session;
    before(async () => { session = await openPage(browser(), url()); });
    after(async () => { await session?.context.close(); });

    test('1: a download clicked right after a slider move holds the settled result, and the card shows it is busy', async () => {
      const { page } = session;
      const [card] = await dropFiles(page, [emPng('race.png', S, S)], 1).then(() => lastCards(page, 1));
      assert.equal(await card.getAttribute('data-state'), 'done');
      await settled(card, 'auto/0.2');
      const old = (await download(page, card.locator('.download-csv'))).bytes;
      // Move the threshold and click the CSV link in the same task: no new
      // result can have come back from the worker yet.
      const [early, seen] = await Promise.all([page.waitForEvent('download'), card.evaluate((root) => {
        const slider = root.querySelector('.threshold');
        slider.value = '0.3';
        slider.dispatchEvent(new Event('input', { bubbles: true }));
        const busy = { state: root.dataset.busy, aria: root.getAttribute('aria-busy'), badge: root.querySelector('[data-testid=busy]')?.checkVisibility() };
        root.querySelector('.download-csv').click();
        return busy;
      })]);
      const earlyBytes = readFileSync(await early.path());
      await settled(card, '0.3/0.2');
      const now = (await download(page, card.locator('.download-csv'))).bytes;
      assert.notDeepEqual(now, old, 'threshold 0.3 changes the cells');
      assert.deepEqual(earlyBytes, now, 'the early click got the result of 0.3, not of the Otsu level');
      assert.deepEqual(seen, { state: 'true', aria: 'true', badge: true }, 'the card says it is updating');
      // A real click right after a real slider move gets the settled result too.
      await card.locator('.fg-fraction').fill('0.6');
      const clicked = (await download(page, card.locator('.download-csv'))).bytes;
      await settled(card, '0.3/0.6');
      assert.deepEqual(clicked, (await download(page, card.locator('.download-csv'))).bytes);
      assert.equal(await card.getAttribute('aria-busy'), 'false');
    });

    test('2: Cancel stops a running image between tiles and skips queued ones; the engine goes on', async () => {
      const { page } = session;
      await page.getByTestId('file-input').setInputFiles([
        emPng('strip.png', 16, stripHeight), emPng('queued.png', S, S), emPng('queued-too.png', S, S)]);
      const [strip, queued, queuedToo] = await lastCards(page, 3);
      await queuedToo.getByTestId('cancel').click(); // still waiting: the strip runs for a while
      // Cancel the others the moment the strip's first tile is reported.
      await strip.evaluate((root, other) => new Promise((resolve) => {
        const check = () => {
          if (root.querySelector('.result-progress').value >= 1) {
            observer.disconnect();
            other.querySelector('[data-testid=cancel]').click();
            root.querySelector('[data-testid=cancel]').click();
            resolve();
          }
        };
        const observer = new MutationObserver(check);
        observer.observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
        check();
      }), await queued.elementHandle());
      await waitStates(page, [strip, queued, queuedToo], ['cancelled', 'done', 'error']);
      assert.equal(await strip.getAttribute('data-state'), 'cancelled', await strip.textContent());
      const [, done, total] = (await strip.locator('.result-message').textContent()).match(/Cancelled after tile (\d+) of (\d+)/);
      assert.ok(Number(done) < Number(total), `the network stopped early (${done} of ${total})`);
      for (const card of [queued, queuedToo]) {
        assert.equal(await card.getAttribute('data-state'), 'cancelled');
        assert.match(await card.locator('.result-message').textContent(), /Cancelled before it started/);
        assert.equal(await card.getByTestId('cancel').isVisible(), false, 'nothing left to cancel');
      }
      const [next] = await dropFiles(page, [emPng('after-cancel.png', S, S)], 1).then(() => lastCards(page, 1));
      assert.equal(await next.getAttribute('data-state'), 'done');
    });

    test('2: Cancel all stops the batch, Clear stops and removes everything, and the engine goes on', async () => {
      const { page } = session;
      const waitRunning = async (card) => page.waitForFunction((el) => el.dataset.state === 'running'
        && el.querySelector('.result-progress').value >= 1, await card.elementHandle(), { polling: 20 });
      await page.getByTestId('file-input').setInputFiles([emPng('a.png', 16, stripHeight), emPng('b.png', S, S), emPng('c.png', S, S)]);
      const batch = await lastCards(page, 3);
      await waitRunning(batch[0]);
      await page.getByTestId('cancel-all').click();
      await waitStates(page, batch, ['cancelled', 'done']);
      for (const card of batch) assert.equal(await card.getAttribute('data-state'), 'cancelled', await card.textContent());
      assert.match(await statusText(page), /cancelled/i);

      await page.getByTestId('file-input').setInputFiles([emPng('d.png', 16, stripHeight), emPng('e.png', S, S)]);
      const [d] = await lastCards(page, 2);
      await waitRunning(d);
      await page.getByTestId('clear-results').click();
      assert.equal(await cards(page).count(), 0);
      await page.waitForTimeout(webgpu ? 3000 : 1000);
      assert.equal(await cards(page).count(), 0, 'no card comes back after Clear');
      assert.equal(await page.locator('[data-testid=results-table] tbody tr').count(), 0);
      const status = await statusText(page);
      assert.doesNotMatch(status, /Done/);
      assert.match(status, /Ready/);
      const [again] = await dropFiles(page, [emPng('after-clear.png', S, S)], 1).then(() => lastCards(page, 1));
      assert.equal(await again.getAttribute('data-state'), 'done');
    });

    test('3: results keep the order the files were given in, pages of a stack together, in the page, the table and the ZIP', async () => {
      const { page } = session;
      await clearAll(page);
      const files = [readFileSync(tiffPath), emPng('second.png', S, S).buffer, emPng('third.png', S, 40).buffer];
      await dropFiles(page, [
        { name: 'stack.tif', mimeType: 'image/tiff', buffer: files[0] },
        { name: 'second.png', mimeType: 'image/png', buffer: files[1] },
        { name: 'third.png', mimeType: 'image/png', buffer: files[2] },
      ], 4);
      const names = await page.locator('[data-testid=result] .result-name').allTextContents();
      assert.deepEqual(names, ['stack.tif — page 1 of 2', 'stack.tif — page 2 of 2', 'second.png', 'third.png']);
      const rows = await page.locator('[data-testid=results-table] tbody tr td:first-child').allTextContents();
      assert.deepEqual(rows, names);
      const zip = readZip((await download(page, page.getByTestId('download-zip'))).bytes);
      const index = parseTsv(zip.get('index.tsv').toString('utf8'));
      assert.deepEqual(index.map((r) => r.file), ['stack_p000', 'stack_p001', 'second', 'third']);
      const folders = [...new Set([...zip.keys()].filter((k) => k.includes('/')).map((k) => k.split('/')[0]))];
      assert.deepEqual(folders, ['stack_p000', 'stack_p001', 'second', 'third']);
    });

    test('4: the mask download is the post-processed mask the cells come from; the probability cut is named as such', async () => {
      const { page } = session;
      const image = emPng('cells.png', 96, 80, 10, 20);
      const [card] = await dropFiles(page, [image], 1).then(() => lastCards(page, 1));
      assert.equal(await card.getAttribute('data-state'), 'done');
      const mask = await download(page, card.getByTestId('download-mask'));
      const cut = await download(page, card.getByTestId('download-cut'));
      const labels = await download(page, card.getByTestId('download-labels'));
      const csv = await download(page, card.getByTestId('download-csv'));
      assert.deepEqual([mask.name, cut.name, labels.name, csv.name], ['cells.mask.png', 'cells.cut.png', 'cells.labels.png', 'cells.cells.csv']);
      assert.match(await card.getByTestId('download-mask').textContent(), /post-processed/i);
      assert.match(await card.getByTestId('download-cut').textContent(), /probability cut/i);
      const m = decodePng(mask.bytes);
      const l = decodePng(labels.bytes);
      for (let i = 0; i < m.data.length; i++) assert.equal(l.data[i] > 0, m.data[i] === 255, 'cells lie exactly on the mask');
      assert.equal(parseCsv(csv.bytes.toString('utf8')).length, l.data.reduce((a, v) => Math.max(a, v), 0));
      // The same names and the same images as `unetseg segment` writes.
      const native = nativeOutputs(image);
      for (const name of ['cells.cells.csv', 'cells.cut.png', 'cells.labels.png', 'cells.mask.png', 'cells.prob.png']) {
        assert.ok(name in native, `the CLI writes ${name}`);
      }
      assert.ok(!('cells.post.png' in native), 'post.png is mask.png now');
      assert.ok(agreement(m, decodePng(native['cells.mask.png'])) >= 0.99);
      assert.ok(agreement(decodePng(cut.bytes), decodePng(native['cells.cut.png'])) >= 0.995);
    });

    test('5: file names keep their Unicode; the ZIP flags UTF-8 names; index.tsv records names, weights and settings', async () => {
      const { page } = session;
      await clearAll(page);
      const given = ['細胞.png', 'é.png', 'a:b?.png', '細胞.tif'];
      const files = given.map((name, i) => ({ ...emPng(name, S, S, 7 * i, 5 * i), name }));
      const list = await dropFiles(page, files, 4).then(() => lastCards(page, 4));
      const names = [];
      for (const card of list) names.push((await download(page, card.getByTestId('download-mask'))).name);
      assert.deepEqual(names, ['細胞.mask.png', 'é.mask.png', 'a_b_.mask.png', '細胞-2.mask.png']);
      const zip = await download(page, page.getByTestId('download-zip'));
      const directory = zipDirectory(zip.bytes);
      assert.ok(directory.some((e) => e.name === '細胞/細胞.mask.png'));
      assert.ok(directory.some((e) => e.name === 'é/é.labels.png'));
      for (const e of directory) assert.ok(e.flags & 0x800 && e.localFlags & 0x800, `${e.name}: UTF-8 flag (bit 11)`);
      const rows = parseTsv(readZip(zip.bytes).get('index.tsv').toString('utf8'));
      assert.deepEqual(rows.map((r) => r.original_name), given);
      assert.deepEqual(rows.map((r) => r.file), ['細胞', 'é', 'a_b_', '細胞-2']);
      const sha = createHash('sha256').update(weightsBytes).digest('hex');
      for (const r of rows) {
        assert.equal(r.status, 'done');
        assert.equal(r.weights, 'default.safetensors');
        assert.equal(r.weights_sha256, sha);
        assert.equal(r.threshold, 'otsu');
        assert.match(r.threshold_used, /^0\.\d+$/);
        assert.equal(r.seed_fraction, '0.2');
        assert.equal(r.width, String(S));
        assert.match(r.engine, webgpu ? /WebGPU/ : /CPU/);
      }
    });

    test('2: leaving the page asks first while results or jobs exist, and not on an empty page', async () => {
      const { page } = session;
      await page.locator('[data-testid=result] [role=tab]').first().click(); // a real click: the browser now lets the page ask
      const asked = new Promise((resolve) => {
        page.once('dialog', (d) => { resolve(d.type()); d.dismiss(); });
        setTimeout(() => resolve('no question within 5 s'), 5000);
      });
      const closed = page.close({ runBeforeUnload: true });
      assert.equal(await asked, 'beforeunload');
      assert.equal(page.isClosed(), false, 'staying on the page keeps it');
      await page.evaluate(() => 1);
      void closed;
      const fresh = await openPage(browser(), url());
      await fresh.page.locator('h1').click();
      let dialog = null;
      fresh.page.once('dialog', (d) => { dialog = d.type(); d.accept(); });
      await fresh.page.close({ runBeforeUnload: true });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(dialog, null, 'nothing to lose, no question');
      await fresh.context.close();
    });
  });

  describe(`one viewer for every view, batch work, keyboard and accessibility, inputs${suffix}`, () => {
    let session;
    before(async () => { session = await openPage(browser(), url()); });
    after(async () => { await session?.context.close(); });

    const viewerState = (viewer) => viewer.evaluate((el) => ({
      scale: Number(el.dataset.scale), cx: Number(el.dataset.cx), cy: Number(el.dataset.cy),
    }));

    test('6: small images are magnified with nearest neighbour; zoom and pan by keys and wheel; Compare stays in sync', async () => {
      const { page } = session;
      // 16 x 16 blocks of 0 and 255: any interpolated pixel would be another gray.
      const blocks = Uint8Array.from({ length: 256 }, (_, i) => ((i % 16 >> 2) + (i >> 6)) % 2 ? 255 : 0);
      const [card] = await dropFiles(page, [{ name: 'blocks.png', mimeType: 'image/png', buffer: grayPng(16, 16, blocks) }], 1)
        .then(() => lastCards(page, 1));
      assert.equal(await card.getAttribute('data-state'), 'done', await card.textContent());
      await card.getByRole('tab', { name: 'Input' }).click();
      const viewer = card.getByTestId('viewer');
      await card.locator('[data-testid=viewer][data-ready=true]').waitFor();
      const fit = await viewerState(viewer);
      assert.ok(fit.scale * 16 >= 200, `a 16 x 16 image is shown ${fit.scale * 16} px wide, not as a dot`);
      const drawn = await viewer.evaluate((el) => {
        const canvas = el.querySelector('canvas');
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        const seen = new Set();
        for (let i = 0; i < data.length; i += 4) seen.add(data[i]);
        return { pixelated: getComputedStyle(canvas).imageRendering, values: [...seen].sort((a, b) => a - b) };
      });
      assert.equal(drawn.pixelated, 'pixelated');
      assert.ok(drawn.values.includes(0) && drawn.values.includes(255), JSON.stringify(drawn.values));
      const background = drawn.values.filter((v) => v !== 0 && v !== 255);
      assert.ok(background.length <= 1, `no interpolated grays: ${JSON.stringify(drawn.values)}`);

      await viewer.focus();
      await page.keyboard.press('+');
      const zoomed = await viewerState(viewer);
      assert.ok(zoomed.scale > fit.scale);
      await page.keyboard.press('ArrowRight');
      assert.ok((await viewerState(viewer)).cx > zoomed.cx, 'ArrowRight looks further right');
      await page.keyboard.press('ArrowDown');
      assert.ok((await viewerState(viewer)).cy > zoomed.cy);
      await page.keyboard.press('-');
      await page.keyboard.press('0');
      assert.deepEqual(await viewerState(viewer), fit, '0 fits the image again');
      const box = await viewer.locator('canvas').boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.wheel(0, -300);
      await page.waitForFunction((el) => Number(el.dataset.scale) > 0, await viewer.elementHandle());
      const wheeled = await viewerState(viewer);
      assert.ok(wheeled.scale > fit.scale, 'the wheel zooms');
      // Dragging pans.
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 - 60, box.y + box.height / 2 - 30, { steps: 4 });
      await page.mouse.up();
      const dragged = await viewerState(viewer);
      assert.ok(dragged.cx > wheeled.cx && dragged.cy > wheeled.cy, 'dragging left and up looks right and down');

      // The zoom follows to the other views, and Compare's two sides move together.
      await card.getByRole('tab', { name: 'Compare' }).click();
      const sides = card.getByTestId('viewer');
      assert.equal(await sides.count(), 2);
      assert.deepEqual(await viewerState(sides.nth(0)), dragged);
      await sides.nth(0).focus();
      await page.keyboard.press('+');
      await page.keyboard.press('ArrowLeft');
      const [left, right] = [await viewerState(sides.nth(0)), await viewerState(sides.nth(1))];
      assert.ok(left.scale > dragged.scale);
      assert.deepEqual(right, left);
      await card.getByRole('tab', { name: 'Watershed steps' }).click();
      assert.ok(await card.getByTestId('viewer').count() >= 9, 'each step in a viewer');
    });

    test('6: hovering a cell shows its label and area; a 2000 x 16 strip (1200 x 16 on WebGPU) is shown at a usable height', async () => {
      const { page } = session;
      const [cell, strip] = await dropFiles(page, [emPng('probe.png', 64, 64, 30, 40), emPng('wide.png', webgpu ? 1200 : 2000, 16)], 2)
        .then(() => lastCards(page, 2));
      assert.equal(await cell.getAttribute('data-state'), 'done');
      const labels = decodePng((await download(page, cell.getByTestId('download-labels'))).bytes);
      const areas = new Map(parseCsv((await download(page, cell.getByTestId('download-csv'))).bytes.toString('utf8'))
        .map((r) => [Number(r.label), Number(r.area)]));
      await cell.getByRole('tab', { name: 'Cells' }).click();
      const viewer = cell.getByTestId('viewer');
      await viewer.evaluate((el) => el.scrollIntoView({ block: 'center' }));
      const { scale, cx, cy } = await viewerState(viewer);
      const box = await viewer.locator('canvas').boundingBox();
      const at = (x, y) => [box.x + box.width / 2 + (x + 0.5 - cx) * scale, box.y + box.height / 2 + (y + 0.5 - cy) * scale];
      let checked = 0;
      for (const [x, y] of [[10, 10], [32, 32], [50, 20], [20, 50]]) {
        const label = labels.data[y * 64 + x];
        await page.mouse.move(...at(x, y));
        const text = await cell.getByTestId('probe').textContent();
        assert.match(text, new RegExp(`x ${x}, y ${y}`));
        if (label > 0) {
          assert.match(text, new RegExp(`cell ${label}\\b.*\\b${areas.get(label)} px`), text);
          checked++;
        } else {
          assert.match(text, /membrane/, text);
        }
      }
      assert.ok(checked > 0, 'at least one probe lands on a cell');
      await strip.getByRole('tab', { name: 'Input' }).click();
      const wide = await viewerState(strip.getByTestId('viewer'));
      assert.ok(wide.scale * 16 >= 96, `the strip is ${wide.scale * 16} px tall`);
    });

    test('7: apply to all, settings remembered between visits, a batch line with an estimate, a results table', async () => {
      const { page } = session;
      await clearAll(page);
      await page.evaluate(() => {
        window.batchTexts = [];
        const line = document.querySelector('[data-testid=batch-progress]');
        new MutationObserver(() => window.batchTexts.push(line.textContent)).observe(line, { subtree: true, childList: true, characterData: true });
      });
      const files = [0, 1, 2, 3].map((i) => emPng(`batch-${i}.png`, S, S, 16 * i, 8 * i));
      const batch = await dropFiles(page, files, 4).then(() => lastCards(page, 4));
      const texts = await page.evaluate(() => window.batchTexts);
      assert.ok(texts.some((t) => /\b[0-3] of 4\b/.test(t) && /(about .+|less than .+) left/.test(t)), JSON.stringify(texts));
      assert.match(await page.getByTestId('batch-progress').textContent(), /4 of 4/);
      const rows = page.locator('[data-testid=results-table] tbody tr');
      assert.equal(await rows.count(), 4);
      const cellsShown = await batch[2].locator('.fact-cells').textContent();
      assert.deepEqual((await rows.nth(2).locator('td').allTextContents()).slice(0, 5).map((t) => t.trim()),
        ['batch-2.png', `${S} × ${S}`, cellsShown, (await rows.nth(2).locator('td').nth(3).textContent()).trim(), 'done']);
      await rows.nth(3).getByRole('link').click();
      assert.equal(await page.evaluate(() => document.activeElement.id), await batch[3].getAttribute('id'));

      await batch[0].locator('.threshold').fill('0.4');
      await batch[0].locator('.fg-fraction').fill('0.3');
      await batch[0].getByTestId('apply-all').click();
      for (const card of batch) await settled(card, '0.4/0.3');
      assert.match(await page.getByTestId('defaults').textContent(), /0\.40.*0\.30/);
      const [later] = await dropFiles(page, [emPng('later.png', S, S)], 1).then(() => lastCards(page, 1));
      await settled(later, '0.4/0.3');

      acceptLeaving(page);
      await page.reload();
      await page.waitForFunction(() => /^Ready/.test(document.querySelector('[data-testid=status]').textContent), null, { timeout: 120_000 });
      assert.match(await page.getByTestId('defaults').textContent(), /0\.40.*0\.30/, 'remembered');
      const [revisit] = await dropFiles(page, [emPng('revisit.png', S, S)], 1).then(() => lastCards(page, 1));
      await settled(revisit, '0.4/0.3');
      assert.equal(await revisit.locator('.threshold').inputValue(), '0.4');
      await page.getByTestId('reset-defaults').click();
      assert.match(await page.getByTestId('defaults').textContent(), /automatic.*0\.20/i);
      await page.getByTestId('clear-results').click();
      assert.match(await statusText(page), /Ready/);
      assert.doesNotMatch(await page.getByTestId('batch-progress').textContent(), /of/);
    });

    test('8: the keyboard reaches everything: weights loader, WAI-ARIA tabs, viewer; help is visible; targets are >= 24 px', async () => {
      const { page } = session;
      const [card] = await dropFiles(page, [emPng('keys.png', S, S)], 1).then(() => lastCards(page, 1));
      // Tab from the top of the page reaches "Load your own weights…", and Enter opens the file chooser.
      // Listening early lets Playwright intercept the file chooser before Enter opens it.
      const chooserOpened = page.waitForEvent('filechooser');
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.locator('h1').click(); // Tab goes on from here, the top of the page
      let reached = false;
      for (let i = 0; i < 20 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(() => document.activeElement?.dataset.testid === 'load-weights');
      }
      assert.ok(reached, 'Tab reaches the weights loader');
      await page.keyboard.press('Enter');
      const chooser = await chooserOpened;
      assert.equal(chooser.isMultiple(), false);

      const tablist = card.getByRole('tablist');
      const tabs = tablist.getByRole('tab');
      const selected = tablist.locator('[role=tab][aria-selected=true]');
      await selected.focus();
      const first = await selected.textContent();
      await page.keyboard.press('ArrowRight');
      const moved = await page.evaluate(() => ({ text: document.activeElement.textContent, selected: document.activeElement.getAttribute('aria-selected') }));
      assert.notEqual(moved.text, first);
      assert.equal(moved.selected, 'true', 'arrows select (automatic activation)');
      await page.keyboard.press('End');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), await tabs.last().textContent());
      await page.keyboard.press('Home');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), await tabs.first().textContent());
      await page.keyboard.press('ArrowLeft');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), await tabs.last().textContent(), 'arrows wrap');
      for (const tab of await tabs.all()) {
        const panelId = await tab.getAttribute('aria-controls');
        const panel = page.locator(`[id="${panelId}"]`);
        assert.equal(await panel.getAttribute('role'), 'tabpanel');
        assert.equal(await panel.getAttribute('aria-labelledby'), await tab.getAttribute('id'));
        assert.equal(await tab.getAttribute('tabindex'), (await tab.getAttribute('aria-selected')) === 'true' ? '0' : '-1');
      }
      // Every control of the card has help on the page, not only in a tooltip.
      for (const control of await card.locator('.controls input').all()) {
        const ids = (await control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
        assert.ok(ids.length, `${await control.evaluate((el) => el.className)} has help`);
        for (const id of ids) {
          const help = page.locator(`[id="${id}"]`);
          assert.ok(await help.isVisible() && (await help.textContent()).trim().length > 10);
        }
      }
      // Sliders move with the keyboard and the result follows.
      await card.locator('.fg-fraction').focus();
      await page.keyboard.press('ArrowRight');
      await settled(card, 'auto/0.21');
      await assertTargets(page);
    });

    test('8: axe-core finds no serious or critical violation on the page with results, wide and on a phone', async () => {
      const { page } = session;
      if (!(await cards(page).count())) await dropFiles(page, [emPng('axe.png', S, S)], 1);
      for (const viewport of [{ width: 1200, height: 900 }, { width: 390, height: 844 }]) {
        await page.setViewportSize(viewport);
        for (const view of ['Overlay', 'Compare', 'Watershed steps']) {
          await cards(page).last().getByRole('tab', { name: view }).click();
          const violations = await axe(page);
          assert.deepEqual(violations, [], `${view} at ${viewport.width} px`);
        }
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `no sideways scrolling at ${viewport.width} px (${overflow} px too wide)`);
        await assertTargets(page);
      }
      await page.setViewportSize({ width: 1200, height: 900 });
    });

    test('9: float32 and planar RGB TIFFs segment; NaN samples, a too-small image are refused clearly; drops land anywhere', async () => {
      const { page } = session;
      const gray = emSamples(64, 64, 3, 9);
      const floats = Float32Array.from(gray, (v) => 1e-3 * v - 0.05);
      const withNan = Float32Array.from(floats);
      withNan[5 * 64 + 7] = NaN;
      const planar = new Uint8Array(3 * 64 * 64);
      for (let k = 0; k < 3; k++) planar.set(gray, k * 64 * 64);
      const files = [
        { name: 'gray.png', mimeType: 'image/png', buffer: grayPng(64, 64, gray) },
        { name: 'float.tif', mimeType: 'image/tiff', buffer: tiff([{ width: 64, height: 64, samples: floats, bits: 32, float: true }]) },
        { name: 'planar.tif', mimeType: 'image/tiff', buffer: tiff([{ width: 64, height: 64, samples: planar, bits: 8, channels: 3, planar: true }]) },
        { name: 'nan.tif', mimeType: 'image/tiff', buffer: tiff([{ width: 64, height: 64, samples: withNan, bits: 32, float: true }]) },
        { name: 'tiny.png', mimeType: 'image/png', buffer: grayPng(1, 1, [128]) },
        { name: 'eight.png', mimeType: 'image/png', buffer: grayPng(8, 8, new Uint8Array(64).fill(90)) },
      ];
      const [g, f, p, nan, tiny, eight] = await dropFiles(page, files, files.length).then(() => lastCards(page, files.length));
      const maskOf = async (card, id = 'download-mask') => decodePng((await download(page, card.getByTestId(id))).bytes);
      assert.equal(await f.getAttribute('data-state'), 'done', await f.textContent());
      assert.match(await f.locator('.fact-size').textContent(), /32-bit float/);
      const reference = await maskOf(g);
      const cut = await maskOf(g, 'download-cut');
      assert.ok(agreement(await maskOf(f, 'download-cut'), cut) >= 0.999, 'float32 scaled by its own range = the 8-bit image');
      assert.equal(await p.getAttribute('data-state'), 'done', await p.textContent());
      assert.deepEqual((await maskOf(p)).data, reference.data, 'planar RGB with R = G = B = the gray image');
      assert.equal(await nan.getAttribute('data-state'), 'error');
      assert.match(await nan.locator('.result-message').textContent(), /^nan\.tif: .*NaN/);
      assert.equal(await tiny.getAttribute('data-state'), 'error');
      assert.match(await tiny.locator('.result-message').textContent(), /^tiny\.png: the image is 1 x 1 pixels.*at least 16 x 16/);
      assert.match(await eight.locator('.result-message').textContent(), /^eight\.png: the image is 8 x 8 pixels.*at least 16 x 16/);

      // Dropped on the footer, far from the drop zone.
      const before = await cards(page).count();
      await dropOnto(page, 'footer', [emPng('dropped.png', S, S)]);
      await page.waitForFunction((n) => {
        const all = document.querySelectorAll('[data-testid=result]');
        return all.length > n && ['done', 'error'].includes(all[all.length - 1].dataset.state);
      }, before, { timeout: 60_000 });
      const [dropped] = await lastCards(page, 1);
      assert.equal(await dropped.locator('.result-name').textContent(), 'dropped.png');
      assert.equal(await dropped.getAttribute('data-state'), 'done');
      assert.deepEqual(session.errors, []);
    });

    test('16: an OME-TIFF\'s pixel size is shown, gives the CSV physical areas and is in index.tsv; each image offers its ROI set', async () => {
      const { page } = session;
      await clearAll(page);
      // tests/fixtures/imageio/ome_pyramid.ome.tif (tifffile): two 24 x 40 planes, pixels 4 nm x 0.005 µm.
      const ome = readFileSync(join(repoRoot, 'tests', 'fixtures', 'imageio', 'ome_pyramid.ome.tif'));
      const image = emPng('cells.png', 96, 80, 10, 20);
      await dropFiles(page, [{ name: 'pyramid.ome.tif', mimeType: 'image/tiff', buffer: ome }, image], 3);
      const [first, second, plain] = await lastCards(page, 3);
      for (const card of [first, second, plain]) assert.equal(await card.getAttribute('data-state'), 'done', await card.textContent());
      assert.equal(await first.locator('.fact-pixel').textContent(), '4 × 5 nm');
      assert.equal(await plain.locator('.fact-pixel').textContent(), 'not given');
      const header = (await download(page, first.getByTestId('download-csv'))).bytes.toString('utf8').split('\n')[0];
      assert.match(header, /area_physical,area_unit/);
      // The ROI set: one ImageJ ROI per cell, named by its label, as `unetseg segment` writes it.
      const roiset = await download(page, plain.getByTestId('download-roiset'));
      assert.equal(roiset.name, 'cells.RoiSet.zip');
      const cells = parseCsv((await download(page, plain.getByTestId('download-csv'))).bytes.toString('utf8')).length;
      assert.ok(cells > 0);
      const rois = [...readZip(roiset.bytes).keys()];
      assert.equal(rois.length, cells);
      assert.ok(rois.every((name) => /^\d+\.roi$/.test(name)), rois.join(' '));
      const native = nativeOutputs(image);
      assert.equal(readZip(native['cells.RoiSet.zip']).size, Number(await plain.locator('.fact-cells').textContent()));
      const zip = readZip((await download(page, page.getByTestId('download-zip'))).bytes);
      assert.deepEqual(readZip(zip.get('cells/cells.RoiSet.zip')), readZip(roiset.bytes));
      const index = parseTsv(zip.get('index.tsv').toString('utf8'));
      assert.deepEqual(index.map((r) => r.pixel_size), ['4 x 5 nm', '4 x 5 nm', '']);
      assert.equal(await page.getByTestId('file-errors').first().textContent(), '');
      assert.deepEqual(session.errors, []);
    });
  });
}

/** Runs axe-core on the page: the serious and critical violations, as `rule: targets`. */
export async function axe(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

/** Every visible control outside running text is at least 24 x 24 CSS pixels (WCAG 2.2 target size). */
export async function assertTargets(page) {
  const small = await page.evaluate(() => [...document.querySelectorAll('button, a[href], input, select, [role=tab], [tabindex="0"]')]
    .filter((el) => el.checkVisibility() && !el.closest('p, li, figcaption') && !(el.type === 'file' && el.closest('label')))
    .map((el) => ({ el, box: el.getBoundingClientRect() }))
    .filter(({ box }) => box.width < 24 || box.height < 24)
    .map(({ el, box }) => `${el.tagName.toLowerCase()}.${el.className} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`));
  assert.deepEqual(small, [], 'targets smaller than 24 px');
}
