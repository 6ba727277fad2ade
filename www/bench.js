// The benchmark mode (`?bench`): for each backend, a fresh engine loads the
// default weights and segments a 512x512 sample slice `runs` times. The first
// run is "cold" (kernels compiled, buffers allocated), the others "warm".
// Then the post-processing alone is timed in wasm. Query parameters:
//   bench=webgpu|cpu   only that backend (default: both, WebGPU first)
//   runs=N             segmentations per backend (default 3; 0: none)
//   finetune=N         then N fine-tuning steps (Adam) on the sample annotated by
//                      its own mask (default 0: none)
//   ftbatch=B, ftcrop=C  their batch and crop size (default 4 and 256)
// The result is printed as JSON into [data-testid=bench-output] and its
// container gets data-state=done (or error).

import { Engine } from './engine.js';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export async function runBenchmark(params, { fetchWithProgress, DEFAULT_WEIGHTS, SAMPLES, status }) {
  const section = document.getElementById('bench');
  const output = document.getElementById('bench-output');
  section.hidden = false;
  const only = params.get('bench');
  const backends = only === 'webgpu' || only === 'cpu' ? [only] : ['webgpu', 'cpu'];
  const runs = params.has('runs') ? Math.max(0, Number(params.get('runs')) || 0) : 3;
  const report = { userAgent: navigator.userAgent, image: SAMPLES[0], runs, backends: [] };
  const show = () => { output.textContent = JSON.stringify(report, null, 2); };
  try {
    status.set('Benchmark: downloading the model and the sample…');
    const weights = await fetchWithProgress(DEFAULT_WEIGHTS, () => {});
    const sample = await (await fetch(`samples/${SAMPLES[0]}`)).arrayBuffer();
    for (const wanted of backends) {
      status.set(`Benchmark: ${wanted}…`);
      const engine = new Engine({ choice: wanted });
      const backend = await engine.start();
      if (backend.kind !== wanted) {
        report.backends.push({ wanted, skipped: backend.reason || `got ${backend.kind}` });
        engine.worker.terminate();
        show();
        continue;
      }
      await engine.loadWeights(weights, 'default.safetensors');
      const { times, postMs } = runs ? await engine.bench(sample.slice(0), SAMPLES[0], runs) : { times: [], postMs: NaN };
      const steps = Math.max(0, Number(params.get('finetune')) || 0);
      const tuned = steps
        ? await engine.benchFineTune(sample.slice(0), SAMPLES[0], weights.slice(0), steps, {
          batch: Number(params.get('ftbatch')) || 4,
          crop: Number(params.get('ftcrop')) || 256,
          seed: 0,
        })
        : null;
      report.backends.push({
        backend: backend.kind,
        adapter: backend.adapter ?? null,
        softwareAdapter: backend.kind === 'webgpu' ? Boolean(backend.fallbackAdapter) : null,
        simd: backend.simd,
        coldMs: times.length ? Math.round(times[0]) : null,
        warmMs: times.length > 1 ? Math.round(median(times.slice(1))) : null,
        allMs: times.map(Math.round),
        postprocessMs: Number(postMs.toFixed(2)),
        fineTune: tuned && {
          firstStepMs: Math.round(tuned.times[0]),
          stepMs: tuned.times.length > 1 ? Math.round(median(tuned.times.slice(1))) : null,
          allMs: tuned.times.map(Math.round),
          losses: tuned.losses.map((l) => Number(l.toFixed(4))),
          weightsBytes: tuned.weightsBytes,
        },
      });
      engine.worker.terminate();
      show();
    }
    section.dataset.state = 'done';
    status.set('Benchmark done.');
  } catch (e) {
    report.error = e.message;
    section.dataset.state = 'error';
    status.set(`Benchmark failed: ${e.message}`, true);
  }
  show();
}
