import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** CPU milliseconds (user + system) of this process, all threads. */
export function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export async function repeat(times, run) {
  const results = [];
  for (let i = 0; i < times; i++) results.push(await run(i));
  return results;
}

// /proc/<pid>/stat counts CPU time in clock ticks of this many per second (USER_HZ).
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU milliseconds (user + system) of another process so far, from /proc/<pid>/stat (Linux). */
export function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime] = [Number(fields[11]), Number(fields[12])]; // fields 14 and 15 of the line
  return ((utime + stime) * 1000) / CLOCK_TICKS;
}
