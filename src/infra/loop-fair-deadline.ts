/** A timer this much past its time says the event loop was held, not that the call was slow. */
const LATE_TOLERANCE_MS = 20;
/** However often the loop is held, a call is failed after this many times its allowance. */
const MAX_STRETCH = 4;

export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';

  constructor(readonly afterMs: number) {
    super(`No answer within ${afterMs} ms.`);
  }
}

/**
 * `call`, rejected with DeadlineExceeded when it has had `ms` of the event loop's time without
 * settling. A plain timer fails a call whose answer arrived while the loop was held (a burst of
 * work, a long GC): timers run before the poll phase reads the sockets, so the answer is still
 * unread when the timer judges. Here a timer that fires late moves the deadline on by its
 * lateness (up to MAX_STRETCH × `ms` in all), and the deadline is judged only after the loop has
 * read its sockets (setImmediate runs after the poll phase). Under a saturation burst the Redis
 * breaker opened on a healthy Redis this way, and every caller then got UPSTREAM_UNAVAILABLE.
 */
export function withLoopFairDeadline<T>(call: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let due = performance.now() + ms;
    const latest = due + ms * (MAX_STRETCH - 1);
    const judge = () => {
      if (settled) return;
      const now = performance.now();
      const late = now - due;
      if (late > LATE_TOLERANCE_MS && now < latest) {
        due = Math.min(now + late, latest);
        timer = setTimeout(judge, due - now);
        return;
      }
      setImmediate(() => {
        if (settled) return;
        settled = true;
        reject(new DeadlineExceeded(ms));
      });
    };
    let timer = setTimeout(judge, ms);
    call.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
