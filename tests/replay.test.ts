import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { shippedJourneys } from '../journeys';
import { journeyWorkflowBundle } from '../worker';
import { loadHistory } from './support/histories';
import { quietRuntime } from './support/journeyEnv';

// Every recorded history (tests/histories, recorded by `npm run histories:record`) stands
// for journeys running in production when a new interpreter is deployed. Each must replay
// against the current workflow bundle with the same commands, or the deploy would fail
// those runs at their next wake-up.
const HISTORIES = join(__dirname, 'histories');

const files = readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.json'))
  .sort();

describe('recorded journey histories replay on the current interpreter', () => {
  it('has a history of every shipped journey recorded on the current interpreter', () => {
    // Top-level files are the current recordings; folders hold older ones (before-<patch-id>/).
    const journeys = new Set(files.filter((file) => !/[\\/]/.test(file)).map((file) => file.split('-')[0]));
    expect([...journeys].sort()).toEqual(shippedJourneys.map((journey) => journey.id).sort());
  });

  it('replays every one without a nondeterminism error', async () => {
    quietRuntime();
    const histories = files.map((file) => ({ workflowId: file, history: loadHistory(join(HISTORIES, file)) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await journeyWorkflowBundle(), replayName: 'journeys-replay' }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
