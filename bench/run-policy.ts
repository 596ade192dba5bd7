/**
 * How many runs a cell gets. A slow cell is slow every time (a blackholed address costs the same timeout
 * on every run), so it gets fewer runs; this keeps the whole benchmark within a few minutes on 2 cores.
 */

/** Runs of a cell whose first run was fast, slow (≥ 0.8 s) and very slow (≥ 4 s). */
export const RUNS_FAST = 7;
export const RUNS_SLOW = 3;
export const RUNS_VERY_SLOW = 1;

/** Runs for a cell, from the wall time (ms) of its first run (process start included). */
export function runsFor(firstRunWallMs: number): number {
  if (firstRunWallMs < 800) return RUNS_FAST;
  if (firstRunWallMs < 4000) return RUNS_SLOW;
  return RUNS_VERY_SLOW;
}
