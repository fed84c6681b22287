import type { JourneyDefinitionInput } from '../domain/journey/types';

// Days count from sign-up: welcome at 0, tips at 2, highlight at 5, check-in at 14.
// Activation is the goal, so it ends the journey from any step; the day-2 `waitFor` states
// the "tips unless already activated" rule in the graph authors read, rather than leaving
// it implied by the goal.
export const onboarding: JourneyDefinitionInput = {
  id: 'onboarding',
  name: 'Onboarding',
  topic: 'marketing',
  // A welcome a day late still reads as one; an older sign-up (an import) gets none.
  trigger: { event: 'user.signed_up', maxAge: '24h' },
  reentry: 'once',
  goals: [{ event: 'user.activated' }],
  steps: [
    { id: 'welcome', kind: 'send', template: { rules: [], fallback: 'welcome' } },
    { id: 'waitForActivation', kind: 'waitFor', event: 'user.activated', timeout: '2d', onEvent: 'activated', onTimeout: 'tips' },
    { id: 'tips', kind: 'send', template: { rules: [], fallback: 'tips' } },
    { id: 'waitBeforeHighlight', kind: 'wait', duration: '3d' },
    {
      id: 'highlight',
      kind: 'send',
      // Teams first: a developer on a team plan gets collaboration, which sells the plan they pay for.
      template: {
        rules: [
          { name: 'teamPlan', when: { attr: 'profile.attributes.plan', op: 'eq', value: 'team' }, use: 'highlightCollaboration' },
          { name: 'developer', when: { attr: 'profile.attributes.role', op: 'eq', value: 'developer' }, use: 'highlightApi' },
        ],
        fallback: 'highlightReports',
      },
    },
    { id: 'waitBeforeCheckIn', kind: 'wait', duration: '9d' },
    { id: 'checkIn', kind: 'send', template: { rules: [], fallback: 'checkIn' }, next: 'done' },
    { id: 'activated', kind: 'exit' },
    { id: 'done', kind: 'exit' },
  ],
};
