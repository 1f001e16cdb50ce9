import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of this process's threads, ms, in two parts: the main thread (JavaScript, the event
 * loop and the syscalls it makes) and every other thread (V8's compiler and GC helpers, libuv's
 * pool). It tells a cost of our code from one of the runtime's background work, which
 * process.cpuUsage() sums. Linux only (/proc/self/task); elsewhere undefined.
 */
export interface ThreadCpu {
  mainMs: number;
  helpersMs: number;
}

/** /proc's clock ticks: USER_HZ, 100 on every Linux Node supports. */
const MS_PER_TICK = 10;

export function threadCpu(): ThreadCpu | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const main = String(process.pid);
  const totals: ThreadCpu = { mainMs: 0, helpersMs: 0 };
  for (const task of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // The name (field 2) may hold spaces: fields are counted after its closing parenthesis,
    // where utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
    if (task === main) totals.mainMs += ms;
    else totals.helpersMs += ms;
  }
  return totals;
}

/** `now` minus `mark`, part by part (undefined when either is). */
export function threadCpuSince(
  now: ThreadCpu | undefined,
  mark: ThreadCpu | undefined,
): ThreadCpu | undefined {
  if (!now || !mark) return undefined;
  return { mainMs: now.mainMs - mark.mainMs, helpersMs: now.helpersMs - mark.helpersMs };
}
