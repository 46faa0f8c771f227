// CAIRN_TEST_SCALE: the one knob for how many rounds the randomized, crash and stress
// tests run (seeds, SIGKILL rounds, checkpoints, megabytes written). 1, the default, is
// full strength; .ci/run's second pass (Node 24) runs smaller, a soak run larger (e.g. 10).
// Each test keeps a floor under which its own assertions would stop meaning anything.

function readScale(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`CAIRN_TEST_SCALE must be a positive number (got ${JSON.stringify(raw)})`);
  return scale;
}

/** The scale factor from the environment (1 when unset). */
export const TEST_SCALE = readScale(process.env.CAIRN_TEST_SCALE);

/** `full` scaled by CAIRN_TEST_SCALE, rounded, and never below `floor`. */
export function scaled(full: number, floor: number): number {
  return Math.max(floor, Math.round(full * TEST_SCALE));
}
