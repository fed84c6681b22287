import { join } from 'node:path';
import type { JourneyDefinitionInput } from '../domain/journey/types';

export const BENCH_EVENT = 'bench.signup';

/** The smallest journey that sends: its first step emails, so "event → email" is one hop like the baseline. */
export const benchWelcome: JourneyDefinitionInput = {
  id: 'benchWelcome',
  name: 'Bench welcome',
  topic: 'marketing',
  trigger: { event: BENCH_EVENT },
  reentry: 'once',
  steps: [
    { id: 'welcome', kind: 'send', template: { rules: [], fallback: 'welcome' } },
    { id: 'done', kind: 'exit' },
  ],
};

export const BENCH_TEMPLATES_DIR = join(__dirname, 'templates');
