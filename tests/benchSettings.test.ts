import { describe, expect, it } from 'vitest';
import { BenchSettingsError, readSettings } from '../bench/settings';

describe('bench settings', () => {
  it('takes worker Node flags written after an "=", and "none"', () => {
    expect(readSettings(['--worker-node-flags=--max-semi-space-size=4 --trace-gc'], {}).workerNodeFlags).toEqual(['--max-semi-space-size=4', '--trace-gc']);
    expect(readSettings(['--worker-node-flags', 'none'], {}).workerNodeFlags).toEqual([]);
  });

  it('says how to write a value that starts with a dash instead of failing with a stack', () => {
    const read = () => readSettings(['--worker-node-flags', '--max-semi-space-size=4'], {});
    expect(read).toThrow(BenchSettingsError);
    expect(read).toThrow('--worker-node-flags needs its value after "=" when the value starts with a dash');
  });

  it('names an unknown flag and a bad value', () => {
    expect(() => readSettings(['--rounds-of', '3'], {})).toThrow(/invalid bench settings: Unknown option '--rounds-of'.*\(bench\/README\.md lists every flag\)/);
    expect(() => readSettings(['--rounds', '0'], {})).toThrow(/--rounds \(BENCH_ROUNDS\)/);
  });
});
