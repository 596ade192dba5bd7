/**
 * A worker thread that dials on request, for the fleet tests: the child script (test/support/*-child.js)
 * posts 'ready' once set up, answers each 'dial' with `{ ok: true, report }` or `{ ok: false, code }`, and
 * exits on 'close' (terminated after 5 s if it does not).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { DialReport } from '../../src/index.js';

type DialAnswer = { ok: true; report: DialReport } | { ok: false; code: string };

export class DialThread {
  readonly worker: Worker;

  /** Starts `child` (a URL of a compiled child script) with `workerData`. */
  constructor(child: URL, workerData: unknown) {
    this.worker = new Worker(child, { workerData });
  }

  async ready(): Promise<void> {
    const [m] = await once(this.worker, 'message');
    assert.equal(m, 'ready');
  }

  /** One dial in the thread: its report (the test fails when the dial did). */
  async dial(): Promise<DialReport> {
    const answer = once(this.worker, 'message');
    this.worker.postMessage('dial');
    const [m] = (await answer) as [DialAnswer];
    assert.ok(m.ok, `the dial failed: ${m.ok ? '' : m.code}`);
    return m.report;
  }

  async close(): Promise<void> {
    const exited = once(this.worker, 'exit');
    this.worker.postMessage('close');
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
