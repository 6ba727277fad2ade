// Benchmark of the page against the native CLI, measured in one run on the
// same machine (not a test: `node --test` skips this file). Usage, from the
// repository root after scripts/build-web.sh and cargo build --release:
//
//   node tests/browser/bench.mjs [--runs N] [--webgpu] [--finetune STEPS]
//
// - native: `unetseg segment` on www/samples/slice-24.png (512x512) with the
//   default weights, N times; the time it prints per image (network with the
//   same tiling, post-processing, cells and PNG writing; not the process start
//   or weights loading). The CPU engine (model::cpu_unet, gemm) on all cores.
// - page, CPU: the page's ?bench=cpu mode in headless Chromium: N segmentations
//   (network only, the same CPU engine in wasm, one thread) in a fresh
//   worker; the first is "cold", the median of the
//   rest "warm"; then the post-processing alone in wasm (mean of 10). Twice:
//   with the pkg/ build (relaxed SIMD) and with the pkg/simd128/ build that a
//   browser without relaxed SIMD gets (the page made to see none).
// - page, WebGPU (--webgpu): the same on Chromium's WebGPU. Without a GPU this
//   is SwiftShader, a software rasteriser: its time is no GPU speed.
//
// - with --finetune STEPS: then STEPS fine-tuning steps in the same worker (batch 4
//   of 256 x 256 crops, Adam, the original augmentations; the sample annotated by
//   its own post-processed mask): the first step, and the median of the others.
//   The native step to set beside it: `cargo bench --bench model -- finetune`.
//
// Prints Markdown tables for BENCHMARKS.md.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, binary, repoRoot, withoutRelaxedSimd } from './helpers.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
const withWebgpu = args.includes('--webgpu');
const fineTuneSteps = args.includes('--finetune') ? Number(args[args.indexOf('--finetune') + 1]) || 5 : 0;
const sample = join(repoRoot, 'www', 'samples', 'slice-24.png');

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function nativeTimes() {
  const out = mkdtempSync(join(tmpdir(), 'unetseg-bench-'));
  try {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const text = execFileSync(binary, ['segment', '--weights', join(repoRoot, 'weights', 'default.safetensors'), sample, '--out', out], { encoding: 'utf8' });
      const match = text.match(/, ([\d.]+) s,/);
      if (!match) throw new Error(`unexpected output of unetseg segment: ${text}`);
      times.push(1000 * Number(match[1]));
    }
    return times;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function pageBench(backend, prepare = null) {
  const server = await startServer();
  const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
  try {
    const context = await browser.newContext();
    await prepare?.(context);
    const page = await context.newPage();
    await page.goto(`${server.url}?bench=${backend}&runs=${runs}&finetune=${fineTuneSteps}`);
    await page.waitForFunction(() => document.getElementById('bench').dataset.state, null, { timeout: 0, polling: 1000 });
    const report = JSON.parse(await page.getByTestId('bench-output').textContent());
    if (report.error) throw new Error(report.error);
    return { browser: browser.version(), ...report.backends[0] };
  } finally {
    await browser.close();
    await server.stop();
  }
}

const native = nativeTimes();
const rows = [];
const fineTuneRows = [];
rows.push(`| native CLI (\`unetseg segment\`, CPU engine, ${cpus().length} cores) | — | ${Math.round(native[0])} | ${Math.round(median(native.slice(1).length ? native.slice(1) : native))} | (included) |`);
const setups = [['cpu', null], ['cpu', withoutRelaxedSimd], ...(withWebgpu ? [['webgpu', null]] : [])];
for (const [backend, prepare] of setups) {
  const r = await pageBench(backend, prepare);
  if (r.skipped) {
    rows.push(`| page, ${backend} | skipped: ${r.skipped} | | | |`);
    continue;
  }
  const what = r.backend === 'webgpu'
    ? `page, WebGPU on ${r.adapter}${r.softwareAdapter ? ' (software adapter, not GPU speed)' : ''}`
    : `page, CPU engine (wasm, 1 thread, ${r.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD128'})`;
  rows.push(`| ${what} | Chromium ${r.browser} | ${r.coldMs} | ${r.warmMs ?? '—'} | ${r.postprocessMs} |`);
  if (r.fineTune) {
    const f = r.fineTune;
    fineTuneRows.push(`| ${what} | ${f.firstStepMs} | ${f.stepMs ?? '—'} | ${f.losses.join(', ')} |`);
  }
}
console.log(`512x512 slice (${sample.replace(repoRoot + '/', '')}), ${runs} runs each, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| engine | browser | cold (ms) | warm (ms, median) | post-processing alone (ms) |');
console.log('|---|---|---|---|---|');
for (const row of rows) console.log(row);
if (fineTuneRows.length) {
  console.log(`\nFine-tuning step, batch 4 of 256x256 crops, ${fineTuneSteps} steps\n`);
  console.log('| engine | first step (ms) | step (ms, median of the rest) | losses |');
  console.log('|---|---|---|---|');
  for (const row of fineTuneRows) console.log(row);
}
