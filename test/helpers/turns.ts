// Counting event-loop turns (setImmediate callbacks) while something runs: the tests'
// evidence that work happened off the main thread or yielded to it.

/** Starts counting turns; stop() ends the count and returns it. */
export function turnCounter(): { stop(): number } {
  let turns = 0;
  let running = true;
  const spin = (): void => {
    if (!running) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  return {
    stop() {
      running = false;
      return turns;
    },
  };
}
