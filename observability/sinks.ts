// How a journey run tells the worker's process that it ended, so `journeys_runs_ended_total`
// counts it: workflows do no I/O, but they may call a sink, which the worker runs outside the
// sandbox. A sink call issues no command (a run's history is the same with or without it), and
// it is not made while a worker replays a history, so each end is counted once, by the worker
// that completes the run.
//
// Wiring: the worker passes `sinks: metricsSinks(deps.metrics)` to Worker.create; the
// interpreter, once it knows its final JourneyStatus, calls
// `proxySinks<JourneyMetricsSinks>().metrics.runEnded(definition.id, state.status)`
// (a type-only import from here, so nothing of this file enters the workflow bundle).
import type { InjectedSinks } from '@temporalio/worker';
import type { Sinks } from '@temporalio/workflow';
import type { MetricsRecorder } from './recorder';

export interface JourneyMetricsSinks extends Sinks {
  metrics: {
    runEnded(journey: string, status: string): void;
  };
}

export function metricsSinks(metrics: Pick<MetricsRecorder, 'runEnded'>): InjectedSinks<JourneyMetricsSinks> {
  return {
    metrics: {
      runEnded: { fn: (_info, journey, status) => metrics.runEnded(journey, status) },
    },
  };
}
