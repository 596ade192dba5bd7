/**
 * "Leave nothing behind": a dial must not leave sockets, timers or DNS requests of its own. Take a
 * snapshot of the process's active resources before, and compare after the caller closed what it got.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export type ResourceCounts = Map<string, number>;

export function activeResources(): ResourceCounts {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** Waits a few turns of the event loop for closes to land, then fails if anything grew since `baseline`. */
export async function assertNoLeaks(baseline: ResourceCounts, what = 'dial'): Promise<void> {
  let grown: string[] = [];
  for (let i = 0; i < 50; i++) {
    await nextTurn();
    const now = activeResources();
    grown = [...now]
      .filter(([k, n]) => n > (baseline.get(k) ?? 0))
      .map(([k, n]) => `${k} ${baseline.get(k) ?? 0}→${n}`);
    if (grown.length === 0) return;
    // A ref'd timer: with unref'd ones the process could exit while the last handles are still closing.
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${what} left resources behind: ${grown.join(', ')}`);
}
