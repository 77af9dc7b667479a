// One benchmark.js measurement, run synchronously: shared by the benchmark scripts.
import Benchmark from 'benchmark';

export function measure(name: string, fn: () => void, maxTime: number, minSamples = 20): Promise<Benchmark> {
  return new Promise((resolve, reject) => {
    const b = new Benchmark(name, fn, { maxTime, minSamples });
    b.on('complete', () => resolve(b));
    b.on('error', () => reject(b.error));
    b.run({ async: false });
  });
}
