// The annotation editor (issue 13, item 1), checked on both engines:
// cpu.test.mjs and webgpu.test.mjs each call `annotationTests`. Strokes are
// drawn with real mouse events on the zoomed viewer and the exported
// annotation PNG is compared pixel by pixel with what the brush must have
// covered; then undo and redo, importing (a valid file, and a corrupt, a
// wrong-sized and a wrongly-valued one, refused by name), a reload that
// restores the annotation from IndexedDB, and "forget".

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, dropFiles, download, decodePng, readZip, emPng, grayPng } from './helpers.mjs';
import { axe, assertTargets } from './features.mjs';

const M = 0;
const U = 128;
const C = 255;

const lastCard = (page) => page.locator('[data-testid=result]').last();
const acceptLeaving = (page) => page.once('dialog', (d) => d.accept());

/** Runs `action` and waits until the card has saved the annotation once more. */
async function afterSave(page, card, action) {
  const handle = await card.elementHandle();
  const before = await card.evaluate((el) => Number(el.dataset.annotationSaves ?? 0));
  await action();
  await page.waitForFunction(([el, n]) => Number(el.dataset.annotationSaves ?? 0) > n && el.dataset.annotation === 'saved',
    [handle, before], { timeout: 30_000, polling: 50 });
}

/** The card's exported annotation: checks it is an 8-bit gray PNG of 0/128/255 and returns its samples. */
async function exported(page, card, size) {
  const file = await download(page, card.getByTestId('download-annotation'));
  assert.match(file.name, /\.annotation\.png$/);
  const png = decodePng(file.bytes);
  assert.deepEqual([png.width, png.height, png.channels, png.depth], [size, size, 1, 8], '8-bit gray, the image size');
  const values = [...new Set(png.data)].sort((a, b) => a - b);
  assert.ok(values.every((v) => v === M || v === U || v === C), `only 0, 128 and 255: ${values}`);
  return Array.from(png.data);
}

/** What a brush of diameter `size` covers when dragged along row `y` from column `x0` to `x1`, painted into `data`. */
function paintRow(data, width, { x0, x1, y, size, value }) {
  const r = size / 2;
  const R = Math.floor(r);
  for (let x = Math.min(x0, x1); x <= Math.max(x0, x1); x++) {
    for (let dy = -R; dy <= R; dy++) {
      for (let dx = -R; dx <= R; dx++) {
        const px = x + dx, py = y + dy;
        if (dx * dx + dy * dy > r * r || px < 0 || py < 0 || px >= width || py >= width) continue;
        data[py * width + px] = value;
      }
    }
  }
  return data;
}

/** The same along column `x` from row `y0` to `y1`. */
function paintColumn(data, width, { x, y0, y1, size, value }) {
  const r = size / 2;
  const R = Math.floor(r);
  for (let y = Math.min(y0, y1); y <= Math.max(y0, y1); y++) {
    for (let dy = -R; dy <= R; dy++) {
      for (let dx = -R; dx <= R; dx++) {
        const px = x + dx, py = y + dy;
        if (dx * dx + dy * dy > r * r || px < 0 || py < 0 || px >= width || py >= width) continue;
        data[py * width + px] = value;
      }
    }
  }
  return data;
}

const count = (data, value) => data.filter((v) => v === value).length;

/**
 * The editor's tests on the page at `url()` in `browser()` (set up by the
 * caller's `before`). `webgpu`: the engine is WebGPU (smaller images).
 */
export function annotationTests({ browser, url, webgpu }) {
  const suffix = webgpu ? ' (WebGPU)' : ' (CPU)';
  const S = webgpu ? 32 : 64;
  const image = emPng('paint.png', S, S, 11, 7);

  describe(`annotation editor: brushes, undo, import, export, kept across reloads${suffix}`, () => {
    let session;
    before(async () => { session = await openPage(browser(), url()); });
    after(async () => { await session?.context.close(); });

    let pattern; // the annotation imported in the second test, restored in the third

    test('13: strokes drawn with the mouse on the zoomed viewer paint membrane, cell and unlabelled; undo and redo', async () => {
      const { page } = session;
      await dropFiles(page, [image], 1);
      const card = lastCard(page);
      assert.equal(await card.getAttribute('data-state'), 'done', await card.textContent());
      const mask = decodePng((await download(page, card.getByTestId('download-mask'))).bytes);

      // Edit starts from the network's mask.
      await afterSave(page, card, () => card.getByTestId('edit').click());
      assert.equal(await card.getByTestId('edit').getAttribute('aria-expanded'), 'true');
      const editor = card.getByTestId('editor');
      assert.ok(await editor.isVisible());
      assert.deepEqual(await exported(page, card, S), Array.from(mask.data), 'the start is the mask');
      // The shortcuts are on the page, not only in tooltips.
      const text = await editor.textContent();
      for (const key of ['M', 'C', 'E', '[', ']', 'Ctrl+Z', 'Ctrl+Shift+Z']) assert.ok(text.includes(key), `shortcut ${key} shown`);
      assert.deepEqual(await axe(page), [], 'axe-core with the editor open');
      await assertTargets(page);

      // From nothing: all unlabelled.
      await afterSave(page, card, () => editor.getByTestId('start-empty').click());
      const empty = new Array(S * S).fill(U);
      assert.deepEqual(await exported(page, card, S), empty);

      // Zoom in twice (keys), then paint where the image pixels are now.
      const viewer = editor.getByTestId('viewer');
      await viewer.evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await viewer.focus();
      const fitScale = Number(await viewer.getAttribute('data-scale'));
      await page.keyboard.press('+');
      await page.keyboard.press('+');
      const state = await viewer.evaluate((el) => ({ scale: Number(el.dataset.scale), cx: Number(el.dataset.cx), cy: Number(el.dataset.cy) }));
      assert.ok(state.scale > fitScale * 1.5, 'zoomed in');
      // Downloads and clicks elsewhere may scroll the page: the canvas is looked up before each drag.
      let box;
      const locate = async () => {
        await viewer.evaluate((el) => el.scrollIntoView({ block: 'center' }));
        box = await viewer.locator('canvas').boundingBox();
      };
      const at = (x, y) => [box.x + box.width / 2 + (x + 0.5 - state.cx) * state.scale, box.y + box.height / 2 + (y + 0.5 - state.cy) * state.scale];
      const drag = async (points) => {
        await locate();
        for (const [x, y] of points) {
          const [sx, sy] = at(x, y);
          assert.ok(sx > box.x && sx < box.x + box.width && sy > box.y && sy < box.y + box.height, `(${x}, ${y}) is in view`);
        }
        await page.mouse.move(...at(...points[0]));
        await page.mouse.down();
        for (const p of points.slice(1)) await page.mouse.move(...at(...p), { steps: 6 });
        await page.mouse.up();
      };
      const c = S / 2;

      // Stroke 1: membrane, brush 3 (a ']' after setting 2 on the slider), along a row.
      await editor.getByTestId('brush-size').fill('2');
      await viewer.focus();
      await page.keyboard.press(']');
      assert.equal(await editor.getAttribute('data-brush'), '3');
      await page.keyboard.press('m');
      assert.equal(await editor.getByTestId('tool-membrane').getAttribute('aria-pressed'), 'true');
      await afterSave(page, card, () => drag([[c - 8, c - 4], [c + 6, c - 4]]));
      const one = paintRow([...empty], S, { x0: c - 8, x1: c + 6, y: c - 4, size: 3, value: M });
      const afterOne = await exported(page, card, S);
      assert.equal(count(one, M), 17 * 3, 'a 3 px brush is a 3 x 3 square: 15 columns and one more at each end, 3 rows');
      assert.deepEqual(afterOne, one, 'stroke 1: exactly the brush\'s pixels are membrane');

      // Stroke 2: cell, brush 5, down a column across stroke 1.
      await viewer.focus();
      await page.keyboard.press('c');
      await editor.getByTestId('brush-size').fill('5');
      await afterSave(page, card, () => drag([[c, c - 7], [c, c + 5]]));
      const two = paintColumn([...one], S, { x: c, y0: c - 7, y1: c + 5, size: 5, value: C });
      assert.deepEqual(await exported(page, card, S), two, 'stroke 2: cell over the membrane where they cross');

      // Stroke 3: erase, brush 1, over the start of stroke 1.
      await viewer.focus();
      await page.keyboard.press('e');
      await editor.getByTestId('brush-size').fill('1');
      await afterSave(page, card, () => drag([[c - 8, c - 4], [c - 5, c - 4]]));
      const three = paintRow([...two], S, { x0: c - 8, x1: c - 5, y: c - 4, size: 1, value: U });
      assert.deepEqual(await exported(page, card, S), three, 'stroke 3: erased back to 128');
      assert.notDeepEqual(three, two);

      // Undo by key and by button, redo by key and by button.
      await viewer.focus();
      await afterSave(page, card, () => page.keyboard.press('Control+z'));
      assert.deepEqual(await exported(page, card, S), two, 'Ctrl+Z undoes stroke 3');
      await afterSave(page, card, () => editor.getByTestId('undo').click());
      assert.deepEqual(await exported(page, card, S), one, 'Undo undoes stroke 2');
      await viewer.focus();
      await afterSave(page, card, () => page.keyboard.press('Control+Shift+Z'));
      assert.deepEqual(await exported(page, card, S), two, 'Ctrl+Shift+Z redoes stroke 2');
      await afterSave(page, card, () => editor.getByTestId('redo').click());
      assert.deepEqual(await exported(page, card, S), three, 'Redo redoes stroke 3');
      assert.equal(await editor.getByTestId('redo').isDisabled(), true, 'nothing left to redo');
      // Starting again from the mask is one more step of the history.
      await afterSave(page, card, () => editor.getByTestId('start-mask').click());
      assert.deepEqual(await exported(page, card, S), Array.from(mask.data));
      await afterSave(page, card, () => editor.getByTestId('undo').click());
      assert.deepEqual(await exported(page, card, S), three, 'undo goes back to the strokes');

      // Pan still works while editing: the pan tool (H) drags the view and paints nothing.
      await viewer.focus();
      await page.keyboard.press('h');
      await locate();
      const [sx, sy] = at(c, c);
      await page.mouse.move(sx, sy);
      await page.mouse.down();
      await page.mouse.move(sx - 60, sy - 30, { steps: 4 });
      await page.mouse.up();
      const moved = await viewer.evaluate((el) => ({ cx: Number(el.dataset.cx), cy: Number(el.dataset.cy) }));
      assert.ok(moved.cx > state.cx && moved.cy > state.cy, 'dragging with the pan tool pans');
      assert.deepEqual(await exported(page, card, S), three, 'and paints nothing');
      assert.deepEqual(session.errors, []);
    });

    test('13: a valid annotation PNG is imported; a corrupt, a wrong-sized and a wrongly-valued one are refused by name and change nothing', async () => {
      const { page } = session;
      const card = lastCard(page);
      pattern = Array.from({ length: S * S }, (_, i) => [M, U, C][((i % S) >> 2) % 3]);
      const valid = grayPng(S, S, pattern);
      const input = card.getByTestId('annotation-input');
      await afterSave(page, card, () => input.setInputFiles({ name: 'valid.png', mimeType: 'image/png', buffer: valid }));
      const status = card.getByTestId('annotation-status');
      assert.match(await status.textContent(), /Imported valid\.png/);
      assert.deepEqual(await exported(page, card, S), pattern);
      // The batch ZIP holds the annotation next to the image's other files.
      const zip = readZip((await download(page, page.getByTestId('download-zip'))).bytes);
      assert.deepEqual(Array.from(decodePng(zip.get('paint/paint.annotation.png')).data), pattern);

      const refused = async (name, buffer, why) => {
        await input.setInputFiles({ name, mimeType: 'image/png', buffer });
        await page.waitForFunction(([el, n]) => el.textContent.includes(n), [await status.elementHandle(), name], { timeout: 10_000 });
        const message = await status.textContent();
        assert.match(message, new RegExp(`Not imported: ${name.replace('.', '\\.')}: ${why}`), message);
        assert.match(await status.getAttribute('class'), /\berror\b/);
        assert.deepEqual(await exported(page, card, S), pattern, `${name} changed nothing`);
      };
      await refused('broken.png', valid.subarray(0, valid.length - 30), '.*(corrupt|truncated)');
      await refused('not-a-png.png', Buffer.from('plain text'), 'not a PNG');
      await refused('wrong-size.png', grayPng(S + 1, S, new Array((S + 1) * S).fill(U)), `it is ${S + 1} x ${S} pixels, the image is ${S} x ${S}`);
      const seven = [...pattern];
      seven[3 * S + 5] = 7;
      await refused('values.png', grayPng(S, S, seven), 'pixel \\(5, 3\\) is 7');
      assert.deepEqual(session.errors, []);
    });

    test('13: the annotation survives a reload of the page; forget clears it here and in the browser\'s storage', async () => {
      const { page } = session;
      assert.ok(pattern, 'the import test ran');
      const reopen = async () => {
        acceptLeaving(page);
        await page.reload();
        await page.waitForFunction(() => /^Ready/.test(document.querySelector('[data-testid=status]').textContent), null, { timeout: 120_000 });
        await dropFiles(page, [image], 1);
        const card = lastCard(page);
        assert.equal(await card.getAttribute('data-state'), 'done');
        await page.waitForFunction((el) => ['saved', 'none'].includes(el.dataset.annotation), await card.elementHandle(), { timeout: 30_000 });
        return card;
      };
      let card = await reopen();
      assert.equal(await card.getAttribute('data-annotation'), 'saved');
      assert.match(await card.getByTestId('annotation-status').textContent(), /restored/);
      assert.deepEqual(await exported(page, card, S), pattern, 'restored from IndexedDB');
      // The restored annotation is the one the editor opens on.
      await card.getByTestId('edit').click();
      assert.match(await card.getByTestId('annotation-count').textContent(), new RegExp(`^${pattern.filter((v) => v !== U).length} of`));

      await card.getByTestId('forget-annotation').click();
      await page.waitForFunction((el) => el.dataset.annotation === 'none', await card.elementHandle());
      assert.equal(await card.getByTestId('download-annotation').getAttribute('href'), null);
      assert.equal(await card.getByTestId('download-annotation').isVisible(), false, 'no annotation, no link');
      assert.equal(await card.getByTestId('editor').count(), 0);
      assert.match(await card.getByTestId('annotation-status').textContent(), /forgotten/);

      card = await reopen();
      assert.equal(await card.getAttribute('data-annotation'), 'none', 'nothing restored after forget');
      assert.equal(await card.getByTestId('download-annotation').getAttribute('href'), null);
      const mask = decodePng((await download(page, card.getByTestId('download-mask'))).bytes);
      await afterSave(page, card, () => card.getByTestId('edit').click());
      assert.deepEqual(await exported(page, card, S), Array.from(mask.data), 'a fresh start from the mask');
      assert.deepEqual(session.errors, []);
    });
  });
}
