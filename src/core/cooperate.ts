/**
 * Long loops on the event loop (expansions of a schedule, feeds) share it fairly with everything else: each holds it
 * for at most a slice, then waits for a turn. Turns are handed out one per event-loop iteration, whatever the number
 * of loops waiting, so that timers and I/O (a /ping, a task's alarm) never wait behind more than one slice.
 */

const waiting: Array<() => void> = [];
let handing = false;

function handOut(): void {
  handing = false;
  waiting.shift()?.();
  if (waiting.length > 0) schedule();
}

function schedule(): void {
  if (handing) return;
  handing = true;
  setImmediate(handOut);
}

/** Resolves at a later event-loop iteration than the current one, in turn with every other loop waiting. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    schedule();
  });
}

/**
 * The function it answers waits for a turn on its first call and then whenever the loop has held the event loop for
 * `sliceMs` since its last turn, and costs nothing otherwise. Await it on every round of a long loop: loops started
 * together then take turns from the start.
 */
export function cooperate(sliceMs = 5): () => Promise<void> {
  let since = Number.NEGATIVE_INFINITY;
  return async () => {
    if (performance.now() - since < sliceMs) return;
    await nextTurn();
    since = performance.now();
  };
}
