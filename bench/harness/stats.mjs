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
