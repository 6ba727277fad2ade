// Fine-tuning in the page (issue 13, item 2), checked on both engines:
// cpu.test.mjs and webgpu.test.mjs each call `fineTuneTests`. An EM texture is
// segmented, annotated by importing its own mask with membrane and cell swapped
// (far from what the network says, so a few steps must move it), and fine-tuned
// from the panel: live steps, pause and resume, the step limit, the loss on the
// run's fixed probe batch falling, the results segmented again with the new
// weights (and the old cells kept for the compare view), the downloaded weights
// giving the page's probabilities in the native CLI, the weights surviving a
// reload, "back to the default weights", and a worker dying mid-run (the run
// goes on from its last snapshot). A bad setting is refused by name.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openPage, dropFiles, download, decodePng, emPng, emSamples, grayPng, nativeOutputs, recordWorkerMessages, tiff, workerMessages,
} from './helpers.mjs';
import { axe, assertTargets } from './features.mjs';

const lastCard = (page) => page.locator('[data-testid=result]').last();
const acceptLeaving = (page) => page.once('dialog', (d) => d.accept());

/** The status element's hooks: data-state, data-step, data-loss, data-probe-before, data-probe-after. */
async function tuningStatus(page) {
  return page.getByTestId('finetune-status').evaluate((el) => ({ ...el.dataset, text: el.textContent }));
}

/** Waits until the fine-tuning status satisfies `predicate(dataset)` (serialised into the page). */
async function waitTuning(page, predicate, timeout = 300_000) {
  await page.waitForFunction(
    (source) => new Function('d', `return (${source})(d);`)(document.querySelector('[data-testid=finetune-status]').dataset),
    predicate.toString(), { timeout, polling: 100 });
}

/** Fills the panel's settings (`{ minutes, steps, lr, batch, crop }`, strings or numbers). */
async function setSettings(page, settings) {
  const more = page.locator('.finetune-more');
  if (!(await more.evaluate((d) => d.open))) await more.locator('summary').click();
  for (const [name, value] of Object.entries(settings)) await page.getByTestId(`finetune-${name}`).fill(String(value));
}

/**
 * Clicks Cancel on result card `index` in the moment a fine-tuning run that has
 * started ends (its status goes to stopped), when its results are queued again.
 */
async function cancelWhenTuningStops(page, index) {
  await page.evaluate((index) => {
    const status = document.querySelector('[data-testid=finetune-status]');
    let ran = false;
    new MutationObserver((_, observer) => {
      ran ||= status.dataset.state === 'running';
      if (!ran || status.dataset.state !== 'stopped') return;
      observer.disconnect();
      document.querySelectorAll('[data-testid=result]')[index].querySelector('[data-testid=cancel]').click();
    }).observe(status, { attributes: true, childList: true, subtree: true });
  }, index);
}

/**
 * The fine-tuning tests on the page at `url()` in `browser()` (set up by the
 * caller's `before`). `webgpu`: the engine is WebGPU (smaller images and crops).
 */
export function fineTuneTests({ browser, url, webgpu }) {
  const suffix = webgpu ? ' (WebGPU)' : ' (CPU)';
  const S = webgpu ? 32 : 64;
  const image = emPng('tune.png', S, S, 23, 5);

  describe(`fine-tuning in the page: live loss, pause, limits, new weights everywhere, kept across reloads${suffix}`, () => {
    let session;
    let dir;
    before(async () => {
      session = await openPage(browser(), url(), recordWorkerMessages);
      dir = mkdtempSync(join(tmpdir(), 'unetseg-finetune-'));
    });
    after(async () => {
      await session?.context.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('13: the panel waits for an annotation, and a bad setting is refused by name', async () => {
      const { page } = session;
      const status = await tuningStatus(page);
      assert.equal(status.state, 'idle');
      assert.match(status.text, /Annotate at least one image/);
      assert.ok(await page.getByTestId('finetune-start').isDisabled(), 'nothing to train on yet');
      assert.ok(await page.getByTestId('download-weights').isHidden());
      assert.ok(await page.getByTestId('reset-weights').isDisabled());

      await dropFiles(page, [image], 1);
      const card = lastCard(page);
      assert.equal(await card.getAttribute('data-state'), 'done', await card.textContent());
      // The annotation: the network's own mask with the two classes swapped.
      const mask = decodePng((await download(page, card.getByTestId('download-mask'))).bytes);
      const swapped = grayPng(S, S, mask.data.map((v) => 255 - v));
      await card.getByTestId('annotation-input').setInputFiles({ name: 'tune.annotation.png', mimeType: 'image/png', buffer: swapped });
      await page.waitForFunction((el) => el.dataset.annotation === 'saved', await card.elementHandle(), { timeout: 30_000 });
      await waitTuning(page, (d) => d.state === 'idle');
      assert.match((await tuningStatus(page)).text, new RegExp(`1 annotated image \\(${(S * S).toLocaleString('en')} labelled pixels\\)`));
      assert.ok(await page.getByTestId('finetune-start').isEnabled());

      await setSettings(page, { crop: 40 });
      await page.getByTestId('finetune-start').click();
      const refused = await tuningStatus(page);
      assert.equal(refused.state, 'error');
      assert.match(refused.text, /crop size must be a multiple of 16 \(it is 40\)/);
      assert.ok(await page.getByTestId('finetune-start').isEnabled(), 'the panel keeps working');
      assert.deepEqual(await axe(page), [], 'axe-core on the panel');
      await assertTargets(page);
    });

    test('13: steps stream in, pause holds, resume goes on, the step limit stops it and the probe loss falls', async () => {
      const { page } = session;
      const steps = webgpu ? 4 : 8;
      await setSettings(page, { minutes: 30, steps, lr: '0.001', batch: 1, crop: S, seed: 3 });
      await page.getByTestId('finetune-start').click();
      await waitTuning(page, (d) => d.state === 'running' && Number(d.step) >= 1);
      assert.ok(await page.getByTestId('finetune-start').isDisabled(), 'one run at a time');
      assert.ok(await page.getByTestId('finetune-minutes').isDisabled(), 'settings are fixed while it runs');

      await page.getByTestId('finetune-pause').click();
      await waitTuning(page, (d) => d.state === 'paused' && /^Paused after step/.test(document.querySelector('[data-testid=finetune-status]').textContent));
      const held = Number((await tuningStatus(page)).step);
      await page.waitForTimeout(1500);
      assert.equal(Number((await tuningStatus(page)).step), held, 'no step while paused');
      assert.equal(await page.getByTestId('finetune-pause').textContent(), 'Resume');
      await page.getByTestId('finetune-pause').click();

      await waitTuning(page, (d) => d.state === 'stopped');
      const done = await tuningStatus(page);
      assert.equal(Number(done.step), steps, done.text);
      assert.match(done.text, new RegExp(`reached its step limit after ${steps} steps`));
      assert.ok(Number.isFinite(Number(done.loss)) && Number(done.loss) > 0, `last loss ${done.loss}`);
      const [probeBefore, probeAfter] = [Number(done.probeBefore), Number(done.probeAfter)];
      assert.ok(probeAfter < probeBefore, `the loss on the fixed probe batch falls: ${probeBefore} -> ${probeAfter}`);
      const curve = await page.getByTestId('finetune-curve').getAttribute('aria-label');
      assert.match(curve, new RegExp(`^Loss curve: ${steps} steps`));
    });

    test('13: the results are segmented again with the fine-tuned weights, which the CLI reproduces', async () => {
      const { page } = session;
      const card = lastCard(page);
      await page.waitForFunction((el) => el.dataset.state === 'done', await card.elementHandle(), { timeout: 120_000 });
      assert.equal(await card.locator('.fact-weights').textContent(), 'fine-tuned.safetensors');
      assert.match(await page.locator('#weights').textContent(), /^fine-tuned weights \(\d+ steps on 1 annotated image, from default\.safetensors/);
      // The compare view shows the cells before and after.
      const [left, right] = await card.locator('.compare select').evaluateAll((s) => s.map((e) => e.value));
      assert.deepEqual([left, right], ['before', 'labels']);

      const weights = await download(page, page.getByTestId('download-weights'));
      assert.equal(weights.name, 'fine-tuned.safetensors');
      const path = join(dir, weights.name);
      writeFileSync(path, weights.bytes);
      const native = nativeOutputs(image, path);
      const pageProb = decodePng((await download(page, card.getByTestId('download-prob'))).bytes);
      const nativeProb = decodePng(native['tune.prob.png']);
      const defaultProb = decodePng(nativeOutputs(image)['tune.prob.png']);
      const maxDiff = (a, b) => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0) / 65535;
      // The probability is softmax of the logits; 1e-4 in it plus the 16-bit step.
      assert.ok(maxDiff(pageProb, nativeProb) <= 1e-4 + 1 / 65535, `page vs CLI: ${maxDiff(pageProb, nativeProb)}`);
      assert.ok(maxDiff(nativeProb, defaultProb) > 1e-2, 'the fine-tuned weights differ from the default');
    });

    test('13: the fine-tuned weights survive a reload; a stop ends a run; back to the default weights', async () => {
      const { page } = session;
      acceptLeaving(page);
      await page.reload();
      await page.waitForFunction(() => /^Ready/.test(document.querySelector('[data-testid=status]').textContent), null, { timeout: 120_000 });
      assert.match(await page.locator('#weights').textContent(), /restored from this browser/);
      assert.ok(await page.getByTestId('download-weights').isVisible());
      assert.ok(await page.getByTestId('reset-weights').isEnabled());

      // The annotation is restored with the image; a long run stopped by hand.
      await dropFiles(page, [image], 1);
      const card = lastCard(page);
      await page.waitForFunction((el) => el.dataset.annotation === 'saved', await card.elementHandle(), { timeout: 30_000 });
      assert.equal(await card.locator('.fact-weights').textContent(), 'fine-tuned.safetensors');
      await setSettings(page, { minutes: 30, steps: 10000, lr: '0.0001', batch: 1, crop: S });
      await page.getByTestId('finetune-start').click();
      await waitTuning(page, (d) => d.state === 'running' && Number(d.step) >= 1);
      await page.getByTestId('finetune-stop').click();
      await waitTuning(page, (d) => d.state === 'stopped');
      assert.match((await tuningStatus(page)).text, /Fine-tuning stopped after \d+ steps/);
      await page.waitForFunction((el) => el.dataset.state === 'done', await card.elementHandle(), { timeout: 120_000 });

      await page.getByTestId('reset-weights').click();
      await page.waitForFunction(() => /^Back to the default weights/.test(document.querySelector('[data-testid=finetune-status]').textContent));
      assert.match(await page.locator('#weights').textContent(), /^default weights/);
      assert.ok(await page.getByTestId('download-weights').isHidden());
      await page.waitForFunction((el) => el.dataset.state === 'done', await card.elementHandle(), { timeout: 120_000 });
      assert.equal(await card.locator('.fact-weights').textContent(), 'default.safetensors');
      acceptLeaving(page);
      await page.reload();
      await page.waitForFunction(() => /^Ready/.test(document.querySelector('[data-testid=status]').textContent), null, { timeout: 120_000 });
      assert.match(await page.locator('#weights').textContent(), /^default weights/, 'the reset holds across a reload');
      assert.deepEqual(session.errors, [], 'no page errors');
    });

    test('13: when the worker dies mid-run, fine-tuning goes on from its last snapshot in a new worker (the CPU)', async () => {
      const { page } = session;
      await dropFiles(page, [image], 1);
      const card = lastCard(page);
      await page.waitForFunction((el) => el.dataset.annotation === 'saved', await card.elementHandle(), { timeout: 30_000 });
      const steps = webgpu ? 4 : 16;
      await setSettings(page, { minutes: 30, steps, lr: '0.0001', batch: 1, crop: S });
      await page.getByTestId('finetune-start').click();
      await waitTuning(page, (d) => d.state === 'running' && Number(d.snapshot) >= 1);
      const snapshot = Number((await tuningStatus(page)).snapshot);
      // An uncaught error in the worker, as a trap or a lost device would end it.
      const [worker] = page.workers();
      await worker.evaluate(() => setTimeout(() => { throw new Error('simulated crash'); }, 0));
      await page.waitForFunction(() => /^The engine stopped/.test(document.querySelector('[data-testid=finetune-status]').textContent),
        null, { timeout: 120_000 });
      const going = (await tuningStatus(page)).text;
      assert.match(going, /simulated crash/);
      assert.match(going, new RegExp(`goes on with CPU \\(WebAssembly, one thread, relaxed SIMD\\).* from step ${snapshot}, with Adam's moments afresh`));
      await waitTuning(page, (d) => d.state === 'stopped');
      const done = await tuningStatus(page);
      assert.equal(Number(done.step), steps, done.text);
      assert.match(await page.getByTestId('backend').textContent(), /^CPU/);
      await page.waitForFunction((el) => el.dataset.state === 'done', await card.elementHandle(), { timeout: 120_000 });
      assert.equal(await card.locator('.fact-weights').textContent(), 'fine-tuned.safetensors');
    });

    test('13: a stop clicked while the run still waits behind a segmentation ends it as soon as it starts', async () => {
      const { page } = session;
      await setSettings(page, { minutes: 30, steps: 10000, lr: '0.0001', batch: 1, crop: S });
      const before = await page.locator('[data-testid=result]').count();
      await page.getByTestId('file-input').setInputFiles([emPng('queued.png', 1024, 1024, 1, 2)]);
      const big = page.locator('[data-testid=result]').nth(before);
      await page.waitForFunction((el) => el.dataset.state === 'running', await big.elementHandle(), { timeout: 60_000, polling: 20 });
      await page.getByTestId('finetune-start').click();
      await waitTuning(page, (d) => d.state === 'running');
      await page.getByTestId('finetune-stop').click();
      // The worker is still segmenting: the run has not started when the stop is sent.
      assert.equal(await big.getAttribute('data-state'), 'running');
      assert.equal((await tuningStatus(page)).step, '0');
      await waitTuning(page, (d) => d.state === 'stopped', 300_000);
      const done = await tuningStatus(page);
      assert.ok(Number(done.step) <= 1, `stopped after ${done.step} steps: ${done.text}`);
      assert.match(done.text, /Fine-tuning stopped after [01] steps/);
    });

    test('13: a page whose new pass is cancelled after fine-tuning keeps its result of the previous weights, sliders included', async () => {
      const { page } = session;
      await page.getByTestId('clear-results').click();
      await dropFiles(page, [image, emPng('kept.png', S, S, 40, 9)], 2);
      const [first, kept] = [page.locator('[data-testid=result]').nth(0), page.locator('[data-testid=result]').nth(1)];
      await page.waitForFunction((el) => el.dataset.annotation === 'saved', await first.elementHandle(), { timeout: 30_000 });
      const before = {
        weights: await kept.locator('.fact-weights').textContent(),
        mask: (await download(page, kept.getByTestId('download-mask'))).bytes,
      };
      // When the run ends, both pages are queued again and the first one starts; the
      // second is cancelled in that same moment, before the worker could reach it.
      await cancelWhenTuningStops(page, 1);
      await setSettings(page, { minutes: 30, steps: 2, lr: '0.001', batch: 1, crop: S });
      await page.getByTestId('finetune-start').click();
      await waitTuning(page, (d) => d.state === 'stopped');
      await page.waitForFunction((el) => el.dataset.state === 'done', await first.elementHandle(), { timeout: 120_000 });
      assert.equal(await first.locator('.fact-weights').textContent(), 'fine-tuned.safetensors');

      assert.equal(await kept.getAttribute('data-state'), 'done');
      assert.match(await kept.locator('.result-message').textContent(), /^Segmenting again was cancelled: this is still the result of the previous weights\.$/);
      assert.equal(await kept.locator('.fact-weights').textContent(), before.weights);
      assert.deepEqual((await download(page, kept.getByTestId('download-mask'))).bytes, before.mask);
      // Its probability is still in the worker: the threshold slider re-runs the post-processing.
      await kept.locator('.threshold').fill('0.3');
      await page.waitForFunction((el) => el.dataset.params === '0.3/0.2' && el.dataset.busy === 'false', await kept.elementHandle(), { timeout: 60_000 });
      assert.doesNotMatch(await kept.locator('.result-message').textContent(), /could not|failed/);
      // Clear logs a failed load of a revoked blob: URL (an image of a removed card) now
      // and then; harmless, and not this test's matter.
      const errors = session.errors.filter((e) => e !== 'Failed to load resource: net::ERR_FILE_NOT_FOUND');
      assert.deepEqual(errors, [], 'no page errors');
    });

    test('13: a page of a multi-page file cancelled before the file is segmented again keeps its result, and the worker skips it', async () => {
      const { page } = session;
      await page.getByTestId('clear-results').click();
      const planes = [0, 1].map((k) => ({ width: S, height: S, bits: 8, samples: emSamples(S, S, 60 + 7 * k, 11) }));
      await dropFiles(page, [image, { name: 'stack.tif', mimeType: 'image/tiff', buffer: tiff(planes) }], 3);
      const cards = page.locator('[data-testid=result]');
      const [first, second, kept] = [cards.nth(0), cards.nth(1), cards.nth(2)];
      assert.match(await kept.locator('.result-name').textContent(), /stack\.tif — page 2 of 2/);
      await page.waitForFunction((el) => el.dataset.annotation === 'saved', await first.elementHandle(), { timeout: 30_000 });
      const before = (await download(page, kept.getByTestId('download-mask'))).bytes;
      // When the run ends the three pages are queued again and tune.png's starts; the
      // stack's second page is cancelled then, before the worker reaches the stack.
      await cancelWhenTuningStops(page, 2);
      await workerMessages(page);
      await setSettings(page, { minutes: 30, steps: 2, lr: '0.001', batch: 1, crop: S });
      await page.getByTestId('finetune-start').click();
      await waitTuning(page, (d) => d.state === 'stopped');
      await page.waitForFunction((el) => el.dataset.state === 'done' && el.querySelector('.fact-weights').textContent === 'fine-tuned.safetensors',
        await second.elementHandle(), { timeout: 120_000 });

      assert.equal(await kept.getAttribute('data-state'), 'done');
      assert.match(await kept.locator('.result-message').textContent(), /^Segmenting again was cancelled: this is still the result of the previous weights\.$/);
      assert.deepEqual((await download(page, kept.getByTestId('download-mask'))).bytes, before);
      const messages = await workerMessages(page);
      assert.ok(messages.some((m) => m.type === 'page-start' && m.page === 0), 'the first pages ran again');
      assert.ok(!messages.some((m) => m.type === 'page-start' && m.page === 1), `the cancelled page did not run: ${JSON.stringify(messages)}`);
      assert.ok(messages.some((m) => m.type === 'page-cancelled' && m.page === 1));
    });
  });
}
