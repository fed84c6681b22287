import type { JourneyDefinitionInput } from '../domain/journey/types';

// Started by entering the `dormant60d` segment (the segment sweep's Schedule finds customers
// whom time alone made dormant). Days count from entry: win-back at 0, offer or content at 7,
// a last email at 21, and at 28 a customer still dormant is tagged lifecycle = "sunset",
// which the send step respects: no marketing email goes to them until a profile update sets
// `lifecycle` to something else (e.g. "active", from the customer system once they are
// active again); nothing here clears it. Transactional email (receipts) still goes out.
//
// Any activity makes the customer leave dormant60d, and leaving is the goal, so the journey
// ends at once from any step. Re-entry `always` gives one run per dormancy spell: the
// segment emits `segment.entered` once per spell, and the next spell can only start after
// the customer left, which ended this run.
export const dormancy: JourneyDefinitionInput = {
  id: 'dormancy',
  name: 'Dormancy win-back',
  topic: 'marketing',
  // Segment entries are dated when they are found, so they are always fresh; the limit keeps
  // an old entry replayed through the API from starting a win-back.
  trigger: {
    event: 'segment.entered',
    entryKey: 'properties.segment',
    where: [{ attr: 'properties.segment', op: 'eq', value: 'dormant60d' }],
    maxAge: '1d',
  },
  reentry: 'always',
  goals: [{ event: 'segment.left' }],
  steps: [
    { id: 'winBack', kind: 'send', template: { rules: [], fallback: 'winBack' } },
    { id: 'waitBeforeSecond', kind: 'wait', duration: '7d' },
    {
      id: 'second',
      kind: 'send',
      // RFM reads the last 90 days and dormancy starts at 60, so purchases made in the
      // month before the customer went quiet still count here, a week into the spell.
      template: {
        rules: [
          {
            name: 'highValue',
            when: {
              any: [
                { attr: 'rfm.monetaryScore', op: 'gte', value: 4 },
                { attr: 'rfm.frequencyScore', op: 'gte', value: 4 },
              ],
            },
            use: 'offer',
          },
        ],
        fallback: 'content',
      },
    },
    { id: 'waitBeforeLastEmail', kind: 'wait', duration: '14d' },
    { id: 'lastEmail', kind: 'send', template: { rules: [], fallback: 'lastEmail' } },
    // Leaving the segment is also the goal, which ends the run before this step sees it.
    { id: 'waitForActivity', kind: 'waitFor', event: 'segment.left', matchEntryKey: true, timeout: '7d', onEvent: 'active', onTimeout: 'sunset' },
    { id: 'sunset', kind: 'tag', attribute: 'lifecycle', value: 'sunset', next: 'done' },
    { id: 'active', kind: 'exit' },
    { id: 'done', kind: 'exit' },
  ],
};
