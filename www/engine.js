// The page's handle on the worker (worker.js): request/reply over
// postMessage, and recovery when the wasm module traps. A trap (a panic, the
// GPU device lost, memory exhausted) leaves the module unusable, so the worker
// is replaced by a fresh one, on the CPU when WebGPU was in use, and the
// weights are loaded into it again from the bytes kept here.

/** The worker trapped while serving a request; the request may be retried. */
export class EngineRestarted extends Error {
  constructor(message, wasGpu) {
    super(message);
    this.wasGpu = wasGpu;
  }
}

export class Engine {
  /**
   * `choice`: 'auto' (WebGPU on a hardware adapter, else the CPU), 'webgpu'
   * (WebGPU on any adapter, else the CPU) or 'cpu'. `onBackend(backend)` is
   * called whenever a worker comes up.
   */
  constructor({ choice = 'auto', onBackend = () => {} } = {}) {
    this.choice = choice;
    this.cpuReason = 'the CPU was asked for';
    this.onBackend = onBackend;
    this.pending = new Map();
    this.nextRid = 1;
    this.generation = 0;
    this.weights = null; // { bytes, name, model } of the loaded weights
    this.backend = null;
    this.starting = null;
  }

  /** Starts (or restarts) the worker and waits until it is ready. */
  start() {
    this.starting = this.#spawn();
    this.starting.catch(() => {}); // failures reach callers through ready()
    return this.ready();
  }

  /** Waits for the current worker, following restarts; rejects if none can start. */
  async ready() {
    for (;;) {
      const starting = this.starting;
      try {
        return await starting;
      } catch (e) {
        if (!(e instanceof EngineRestarted) || this.starting === starting) throw e;
      }
    }
  }

  async #spawn() {
    this.worker?.terminate();
    this.generation += 1;
    this.backend = null;
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event) => this.#receive(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.#crashed(`the worker failed: ${event.message || 'unknown error'}`);
    };
    const { backend } = await this.#call('init', { choice: this.choice, cpuReason: this.cpuReason });
    this.backend = backend;
    if (this.weights) {
      await this.#call('weights', { bytes: this.weights.bytes.slice(0), name: this.weights.name });
    }
    this.onBackend(backend);
    return backend;
  }

  /** Loads weights; on failure the previously loaded weights stay in use. */
  async loadWeights(bytes, name) {
    await this.ready();
    const reply = await this.#call('weights', { bytes: bytes.slice(0), name });
    this.weights = { bytes, name, model: reply.model };
    return reply;
  }

  /**
   * Segments every page of one file. `events` receives the worker's
   * `pages`, `page-start`, `progress`, `page-done`, `page-error` and
   * `page-cancelled` messages. The pages listed in `skip` are not segmented (each
   * reports `page-cancelled`).
   * The results stay in the current worker (`generation`) for `analyse`; a page's new
   * result replaces the one kept under the same key.
   */
  async segment(key, bytes, name, params, skip, events) {
    await this.ready();
    return this.#call('segment', { key, bytes, name, params, skip }, events);
  }

  /**
   * Asks the worker to stop segmenting page `page` of the file `key` (every page
   * when `page` is undefined): a page not started is skipped, a running one stops
   * after its current tile. The segment call then reports `page-cancelled`.
   */
  cancel(key, page) {
    this.worker?.postMessage({ type: 'cancel', key, page });
  }

  /** Re-runs the post-processing of a kept result; null if that worker is gone. */
  async analyse(key, generation, params) {
    await this.ready();
    if (generation !== this.generation) return null;
    return this.#call('analyse', { key, params });
  }

  /** Frees kept results. */
  async forget(keys) {
    await this.ready();
    return this.#call('forget', { keys });
  }

  /**
   * Fine-tunes the weights file `weights` (`name`) on `images` in the worker (see
   * worker.js, `fineTune`); `events` receives its `tuning-step`, `tuning-snapshot`
   * and `tuning-paused` messages. Resolves with `{ weights, step, reason, ranMs }`.
   */
  async fineTune({ run, weights, name, images, options, limits, firstStep }, events) {
    await this.ready();
    const copies = images.map((image) => ({ ...image, bytes: image.bytes.slice(0), annotation: image.annotation.slice(0) }));
    return this.#call('fineTune', { run, weights: weights.slice(0), name, images: copies, options, limits, firstStep }, events);
  }

  /**
   * Pauses, resumes or stops (`action`) the fine-tuning `run` after its current step,
   * also one still waiting for the worker.
   */
  controlFineTune(run, action) {
    this.worker?.postMessage({ type: 'tuning', run, action });
  }

  /** Times `steps` fine-tuning steps on one image (the benchmark mode). */
  async benchFineTune(bytes, name, weights, steps, options) {
    await this.ready();
    return this.#call('benchFineTune', { bytes, name, weights, steps, options });
  }

  /** Times `runs` segmentations of one image (the benchmark mode). */
  async bench(bytes, name, runs) {
    await this.ready();
    return this.#call('bench', { bytes, name, runs });
  }

  #call(type, payload, events = () => {}) {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      this.pending.set(rid, { resolve, reject, events });
      this.worker.postMessage({ rid, type, ...payload });
    });
  }

  #receive(message) {
    const call = this.pending.get(message.rid);
    if (!call) return;
    if (message.type === 'reply') {
      this.pending.delete(message.rid);
      call.resolve(message);
    } else if (message.type === 'failed') {
      this.pending.delete(message.rid);
      call.reject(new Error(message.message));
    } else if (message.type === 'fatal') {
      this.#crashed(message.message);
    } else {
      call.events(message);
    }
  }

  /** The worker is unusable: fail what it was doing, then bring up a new one. */
  #crashed(reason) {
    // Before the worker reported its backend, it was trying WebGPU unless told not to.
    const wasGpu = this.backend ? this.backend.kind === 'webgpu' : this.choice !== 'cpu';
    const calls = [...this.pending.values()];
    this.pending.clear();
    if (wasGpu) {
      this.choice = 'cpu';
      this.cpuReason = `WebGPU failed in this tab (${reason})`;
      this.start().catch((e) => console.error('restarting the engine failed', e));
    } else if (this.backend) {
      this.start().catch((e) => console.error('restarting the engine failed', e));
    } else {
      // The CPU engine itself cannot start: nothing else to fall back to.
      this.worker.terminate();
    }
    for (const call of calls) call.reject(new EngineRestarted(reason, wasGpu));
  }
}
