// Shared pieces of the browser tests: the server, the browser, the native
// CLI as reference, and small PNG/ZIP/CSV readers to check downloads.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync, deflateSync, crc32 } from 'node:zlib';
import { chromium } from 'playwright-core';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'unetseg', 'target');
export const binary = join(targetDir, 'release', 'unetseg');

/** The 128x128 crop of held-out ISBI slice 24 (made by tests/data/browser/make_fixtures.py). */
export const cropPath = join(repoRoot, 'tests', 'data', 'browser', 'slice-24-crop128.png');
/** A two-page 16-bit TIFF of two 64x64 crops of the same slice (same script). */
export const tiffPath = join(repoRoot, 'tests', 'data', 'browser', 'slice-24-two-pages-16bit.tif');

function findChromium() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) throw new Error('no Chromium found: run scripts/setup-web.sh or set CHROMIUM_PATH');
  return found;
}

/**
 * Starts `unetseg serve` on a free 127.0.0.1 port. Returns `{ url, stop }`.
 * Needs the release binary and pkg/ (scripts/test.sh builds both).
 */
export async function startServer() {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: build it with cargo build --release`);
  if (!existsSync(join(repoRoot, 'pkg', 'unetseg_bg.wasm'))) throw new Error('pkg/ is missing: run scripts/build-web.sh');
  const child = spawn(binary, ['serve', '--port', '0', '--host', '127.0.0.1', '--root', repoRoot], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/unetseg page: (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`unetseg serve exited with ${code}: ${out}`)));
    setTimeout(() => reject(new Error('unetseg serve did not start within 10 s')), 10_000);
  });
  return {
    url,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill();
    }),
  };
}

/** Headless Chromium; WebGPU (SwiftShader without a GPU) only with `webgpu`. */
export async function launchBrowser({ webgpu }) {
  const args = ['--no-sandbox', '--disable-gpu-sandbox', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  // playwright-core gives each browser a fresh temporary profile.
  return chromium.launch({ executablePath: findChromium(), args, headless: true });
}

/**
 * The JSON report of the page's benchmark mode (www/bench.js) for the query
 * `query` (e.g. `bench=cpu&runs=1`), in a fresh context of `browser`.
 */
export async function benchReport(browser, url, query) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${url}?${query}`, { timeout: 120_000 });
    await page.waitForFunction(() => document.getElementById('bench').dataset.state, null, { timeout: 600_000, polling: 500 });
    return JSON.parse(await page.getByTestId('bench-output').textContent());
  } finally {
    await context.close();
  }
}

/**
 * Opens the page and waits until the engine and weights are ready. Records
 * every request (`requests`) and console/page errors (`errors`). `prepare`, when
 * given, is awaited with the new context before the page loads (to route requests).
 */
export async function openPage(browser, url, prepare = null) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  await prepare?.(context);
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push(r.url()));
  context.on('request', (r) => { if (!requests.includes(r.url())) requests.push(r.url()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // Generous: on a busy 2-core machine SwiftShader and the 4 MB module take a while.
  await page.goto(url, { timeout: 120_000 });
  await page.waitForFunction(
    () => /^Ready/.test(document.querySelector('[data-testid=status]').textContent),
    null, { timeout: 120_000 });
  return { context, page, requests, errors };
}

/** Sets files on the page's file input and waits until `count` results are settled (done, failed or cancelled). */
export async function dropFiles(page, files, count, timeout = 240_000) {
  const before = await page.locator('[data-testid=result]').count();
  await page.getByTestId('file-input').setInputFiles(files);
  await page.waitForFunction(
    ([n]) => {
      const settled = [...document.querySelectorAll('[data-testid=result]')]
        .filter((r) => ['done', 'error', 'cancelled'].includes(r.dataset.state));
      return settled.length >= n;
    },
    [before + count], { timeout, polling: 250 });
  return page.locator('[data-testid=result]');
}

/** Clicks a download link or button and returns the downloaded bytes and file name. */
export async function download(page, locator) {
  const [dl] = await Promise.all([page.waitForEvent('download'), locator.click()]);
  const path = await dl.path();
  return { name: dl.suggestedFilename(), bytes: readFileSync(path) };
}

/** Runs the native CLI on `imagePath` with the page's default weights; returns its mask PNG bytes (the post-processed mask). */
export function nativeMask(imagePath) {
  const out = mkdtempSync(join(tmpdir(), 'unetseg-native-'));
  try {
    execFileSync(binary, ['segment', '--weights', join(repoRoot, 'weights', 'default.safetensors'), imagePath, '--out', out],
      { stdio: ['ignore', 'ignore', 'inherit'] });
    const stem = basename(imagePath).replace(/\.[^.]+$/, '');
    return readFileSync(join(out, `${stem}.mask.png`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** An 8-bit gray PNG of `width` x `height` pixels all equal to `value` (small even when huge). */
export function constantPng(width, height, value) {
  const row = Buffer.alloc(width + 1, value);
  row[0] = 0; // filter: none
  const raw = Buffer.alloc(row.length * height);
  for (let y = 0; y < height; y++) row.copy(raw, y * row.length);
  return pngFromRows(width, height, 8, raw);
}

/** A gray PNG of `width` x `height` samples `data` (row-major; 8 bits, or 16 with `depth` 16). */
export function grayPng(width, height, data, depth = 8) {
  const bytes = depth / 8;
  const raw = Buffer.alloc((width * bytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * bytes + 1);
    for (let x = 0; x < width; x++) {
      const v = data[y * width + x];
      if (depth === 16) raw.writeUInt16BE(v, row + 1 + 2 * x);
      else raw[row + 1 + x] = v;
    }
  }
  return pngFromRows(width, height, depth, raw);
}

/** A gray PNG from filtered rows (each a filter byte, then the samples). */
function pngFromRows(width, height, depth, raw) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = 0; // gray
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 6 })), chunk('IEND', Buffer.alloc(0))]);
}

let cropSamples = null;
/**
 * `width` x `height` 8-bit samples of EM texture: the 128x128 crop of slice 24
 * from (`x0`, `y0`), mirrored (`c b a | a b c | c b a`) past its borders, so any
 * size can be made at test time.
 */
export function emSamples(width, height, x0 = 0, y0 = 0) {
  cropSamples ??= decodePng(readFileSync(cropPath));
  const { width: w, data } = cropSamples;
  const mirror = (i, n) => {
    const period = 2 * n;
    const m = ((i % period) + period) % period;
    return m < n ? m : period - 1 - m;
  };
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = data[mirror(y0 + y, w) * w + mirror(x0 + x, w)];
  }
  return out;
}

/** A file for `setInputFiles`: an EM texture PNG of `width` x `height` named `name`. */
export function emPng(name, width, height, x0 = 0, y0 = 0) {
  return { name, mimeType: 'image/png', buffer: grayPng(width, height, emSamples(width, height, x0, y0)) };
}

/**
 * An uncompressed little-endian TIFF, one strip per plane. `pages`: a list of
 * `{ width, height, samples, bits, float, channels, planar }`: `samples` holds
 * `width * height * channels` numbers, pixel-interleaved (or plane after plane
 * when `planar`); `bits` 8, 16 or 32 (float with `float`).
 */
export function tiff(pages) {
  const parts = [];
  let size = 8;
  const add = (buffer) => {
    const at = size;
    parts.push(buffer);
    size += buffer.length;
    if (size % 2) {
      parts.push(Buffer.alloc(1));
      size += 1;
    }
    return at;
  };
  const header = Buffer.from([0x49, 0x49, 42, 0, 0, 0, 0, 0]);
  let link = 4; // where the offset of the next IFD goes
  const links = [];
  for (const p of pages) {
    const channels = p.channels ?? 1;
    const bytes = p.bits / 8;
    const planes = p.planar ? channels : 1;
    const planeLength = p.width * p.height * (p.planar ? 1 : channels);
    const strips = [];
    for (let k = 0; k < planes; k++) {
      const data = Buffer.alloc(planeLength * bytes);
      for (let i = 0; i < planeLength; i++) {
        const v = p.samples[k * planeLength + i];
        if (p.float) data.writeFloatLE(v, i * bytes);
        else if (bytes === 2) data.writeUInt16LE(v, i * bytes);
        else data[i] = v;
      }
      strips.push({ offset: add(data), length: data.length });
    }
    const array = (values, width) => {
      const buffer = Buffer.alloc(values.length * width);
      values.forEach((v, i) => (width === 2 ? buffer.writeUInt16LE(v, 2 * i) : buffer.writeUInt32LE(v, 4 * i)));
      return buffer;
    };
    const SHORT = 3, LONG = 4;
    const entries = [
      [256, LONG, [p.width]], [257, LONG, [p.height]], [258, SHORT, Array(channels).fill(p.bits)],
      [259, SHORT, [1]], [262, SHORT, [channels >= 3 ? 2 : 1]], [273, LONG, strips.map((s) => s.offset)],
      [277, SHORT, [channels]], [278, LONG, [p.height]], [279, LONG, strips.map((s) => s.length)],
      [284, SHORT, [p.planar ? 2 : 1]], [339, SHORT, Array(channels).fill(p.float ? 3 : 1)],
    ];
    const values = entries.map(([, type, v]) => {
      const width = type === SHORT ? 2 : 4;
      return v.length * width > 4 ? { offset: add(array(v, width)) } : { inline: array(v, width) };
    });
    const ifd = Buffer.alloc(2 + 12 * entries.length + 4);
    ifd.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, v], i) => {
      const at = 2 + 12 * i;
      ifd.writeUInt16LE(tag, at);
      ifd.writeUInt16LE(type, at + 2);
      ifd.writeUInt32LE(v.length, at + 4);
      if (values[i].inline) values[i].inline.copy(ifd, at + 8);
      else ifd.writeUInt32LE(values[i].offset, at + 8);
    });
    const at = add(ifd);
    links.push({ link, at });
    link = at + 2 + 12 * entries.length;
  }
  const file = Buffer.concat([header, ...parts]);
  for (const { link: l, at } of links) file.writeUInt32LE(at, l);
  return file;
}

/** Decodes a non-interlaced PNG (gray, gray+alpha, RGB or RGBA; 8 or 16 bits) into `{ width, height, channels, depth, data }`. */
export function decodePng(bytes) {
  const buf = Buffer.from(bytes);
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let offset = 8;
  let header = null;
  const idat = [];
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const chunk = buf.subarray(offset + 8, offset + 8 + length);
    if (crc32(buf.subarray(offset + 4, offset + 8 + length)) !== buf.readUInt32BE(offset + 8 + length)) {
      throw new Error(`PNG chunk ${type} has a bad CRC`);
    }
    if (type === 'IHDR') {
      header = { width: chunk.readUInt32BE(0), height: chunk.readUInt32BE(4), depth: chunk[8], color: chunk[9], interlace: chunk[12] };
    } else if (type === 'IDAT') {
      idat.push(chunk);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  const channels = { 0: 1, 4: 2, 2: 3, 6: 4 }[header.color];
  if (!channels || header.interlace || (header.depth !== 8 && header.depth !== 16)) throw new Error('unsupported PNG layout');
  const bpp = channels * header.depth / 8;
  const stride = header.width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  const out = Buffer.alloc(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const prev = y ? out.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[i] = (line[i] + predictor) & 0xff;
    }
  }
  const samples = header.depth === 16
    ? Uint16Array.from({ length: out.length / 2 }, (_, i) => out.readUInt16BE(2 * i))
    : new Uint8Array(out);
  return { width: header.width, height: header.height, channels, depth: header.depth, data: samples };
}

/** Reads a ZIP's entries (stored or deflated), checking every CRC-32: a Map name -> Buffer. */
export function readZip(bytes) {
  const buf = Buffer.from(bytes);
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('no end of central directory');
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const entries = new Map();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    const size = buf.readUInt32LE(at + 20);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLength);
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (method !== 0) throw new Error(`${name}: compression method ${method}, expected stored (0)`);
    const data = buf.subarray(dataStart, dataStart + size);
    if (crc32(data) !== crc) throw new Error(`${name}: CRC mismatch`);
    entries.set(name, data);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Parses simple CSV (no quoted commas) into an array of row objects keyed by the header. */
export function parseCsv(text) {
  const [head, ...rows] = text.trim().split(/\r?\n/);
  const keys = head.split(',');
  return rows.map((line) => Object.fromEntries(line.split(',').map((v, i) => [keys[i], v])));
}

/** Fraction of equal samples of two decoded single-channel images of the same size. */
export function agreement(a, b) {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`size ${a.width}x${a.height} != ${b.width}x${b.height}`);
  let same = 0;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] === b.data[i]) same++;
  return same / a.data.length;
}

/** The entries of a ZIP's central directory in order: `{ name, flags, localFlags }` (general-purpose bit flags). */
export function zipDirectory(bytes) {
  const buf = Buffer.from(bytes);
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const out = [];
  for (let i = 0; i < count; i++) {
    const nameLength = buf.readUInt16LE(at + 28);
    const local = buf.readUInt32LE(at + 42);
    out.push({
      name: buf.toString('utf8', at + 46, at + 46 + nameLength),
      flags: buf.readUInt16LE(at + 8),
      localFlags: buf.readUInt16LE(local + 6),
    });
    at += 46 + nameLength + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
  }
  return out;
}

/** Parses a TSV with a header line into row objects. */
export function parseTsv(text) {
  const [head, ...rows] = text.replace(/\n$/, '').split('\n');
  const keys = head.split('\t');
  return rows.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [keys[i], v])));
}

/** Waits until `card` shows the result of the slider values `params` ("auto/0.2") and is no longer busy. */
export async function settled(card, params, timeout = 60_000) {
  await card.page().waitForFunction(
    ([el, p]) => el.dataset.params === p && el.dataset.busy !== 'true',
    [await card.elementHandle(), params], { timeout, polling: 50 });
}

/**
 * Drops `files` (`{ name, mimeType, buffer }`) onto the element `selector` as a
 * user dragging them from a file manager would: dragenter, dragover, drop.
 */
export async function dropOnto(page, selector, files) {
  const payload = files.map((f) => ({ name: f.name, type: f.mimeType, data: Buffer.from(f.buffer).toString('base64') }));
  await page.evaluate(([sel, list]) => {
    const transfer = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const target = document.querySelector(sel);
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    }
  }, [selector, payload]);
}

/**
 * Runs `unetseg segment` (with `weights`, by default the page's default weights) on
 * `file` (`{ name, buffer }`, written under its own name) and returns every file it
 * wrote: a Map-like object name -> Buffer.
 */
export function nativeOutputs(file, weights = join(repoRoot, 'weights', 'default.safetensors')) {
  const dir = mkdtempSync(join(tmpdir(), 'unetseg-native-'));
  try {
    const input = join(dir, file.name);
    writeFileSync(input, file.buffer);
    const out = join(dir, 'out');
    execFileSync(binary, ['segment', '--weights', weights, input, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
    return Object.fromEntries(readdirSync(out).map((name) => [name, readFileSync(join(out, name))]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Checks a benchmark report's fine-tuning on `backend`: `steps` finite losses and
 * an exported weights file.
 */
export function checkFineTuneReport(report, backend, steps) {
  if (report.error) throw new Error(report.error);
  const [run] = report.backends;
  if (run.backend !== backend) throw new Error(`ran on ${run.backend ?? run.skipped}, not ${backend}`);
  const { losses, weightsBytes } = run.fineTune;
  if (losses.length !== steps || !losses.every((l) => Number.isFinite(l) && l > 0)) throw new Error(`losses ${losses}`);
  // The default network's 1.9 M parameters as f32, with its config.
  if (!(weightsBytes > 7_000_000)) throw new Error(`exported weights of ${weightsBytes} bytes`);
}

/**
 * Routes `context`'s requests for www/worker.js to a version whose WebAssembly
 * validates no module that uses relaxed SIMD (one holding the opcode of
 * `f32x4.relaxed_madd`, 0xfd 0x85 0x02), as in a browser without it.
 */
export async function withoutRelaxedSimd(context) {
  const shim = `{
    const validate = WebAssembly.validate;
    WebAssembly.validate = (bytes) => {
      const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02) return false;
      return validate(bytes);
    };
  }
`;
  // The server's own response with the shim in front (its headers kept: the page is
  // cross-origin isolated, so the worker's script must carry the same policies).
  await context.route('**/worker.js', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: shim + (await response.text()) });
  });
}

/**
 * Routes every request of `context` through the server but drops the response's
 * cross-origin isolation headers (COOP, COEP), as GitHub Pages serves the page.
 */
export async function withoutIsolation(context) {
  await context.route('**/*', async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response, headers });
  });
}

/**
 * Makes every Worker of the pages of `context` record the type and page of each
 * message it sends (`workerMessages`): an `openPage` prepare step.
 */
export async function recordWorkerMessages(context) {
  await context.addInitScript(() => {
    const NativeWorker = window.Worker;
    window.__workerMessages = [];
    window.Worker = class extends NativeWorker {
      constructor(...args) {
        super(...args);
        this.addEventListener('message', (e) => window.__workerMessages.push({ type: e.data?.type, page: e.data?.page }));
      }
    };
  });
}

/** The messages recorded by `recordWorkerMessages` since the last call, `{ type, page }` each. */
export async function workerMessages(page) {
  return page.evaluate(() => window.__workerMessages.splice(0));
}

