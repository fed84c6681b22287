import { z } from 'zod';
import { ruleSchema } from './schema';
import { evaluateRule, type RuleFacts } from './evaluate';
import { requiredFacts } from './decide';
import type { Rule } from './types';

/**
 * A segment: a named rule over a customer's facts (`now`, `profile`, `events`, `rfm`,
 * `segments`). Membership is kept in the store; entering or leaving one is an event
 * (`segment.entered` / `segment.left` with `properties.segment`) that can start or end a journey.
 */
// Ids are short because they travel in event ids and workflow ids (entry key), both length-capped.
export const segmentId = z.string().regex(/^[a-z][A-Za-z0-9]{0,23}$/, 'segment ids are camelCase, at most 24 characters, e.g. "dormant60d"');

export const segmentSchema = z.strictObject({
  id: segmentId,
  name: z.string().min(1),
  rule: ruleSchema,
});
export type SegmentDefinition = z.infer<typeof segmentSchema>;
export type SegmentDefinitionInput = z.input<typeof segmentSchema>;

/** The event types membership changes are told by; never counted as customer activity. */
export const SEGMENT_ENTERED = 'segment.entered';
export const SEGMENT_LEFT = 'segment.left';

export class SegmentDefinitionError extends Error {}

/**
 * Validates a list of segments. A segment may read the membership of segments listed before
 * it (`{ segment: 'vip' }`), never after: membership is computed in list order, so there is
 * no cycle and one pass is enough.
 */
export function parseSegments(inputs: SegmentDefinitionInput[]): SegmentDefinition[] {
  const seen = new Set<string>();
  return inputs.map((input, index) => {
    const parsed = segmentSchema.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new SegmentDefinitionError(`segment ${index} ("${String((input as { id?: unknown }).id)}") is invalid:\n  ${problems.join('\n  ')}`);
    }
    const segment = parsed.data;
    if (seen.has(segment.id)) throw new SegmentDefinitionError(`two segments have the id "${segment.id}"`);
    for (const name of segmentsReadBy(segment.rule)) {
      if (!seen.has(name)) throw new SegmentDefinitionError(`segment "${segment.id}" reads segment "${name}", which must be listed before it`);
    }
    seen.add(segment.id);
    return segment;
  });
}

function segmentsReadBy(rule: Rule): string[] {
  if ('all' in rule) return rule.all.flatMap(segmentsReadBy);
  if ('any' in rule) return rule.any.flatMap(segmentsReadBy);
  if ('not' in rule) return segmentsReadBy(rule.not);
  if ('segment' in rule) return [rule.segment];
  return [];
}

/**
 * True when time alone can change the segment's membership: it reads event windows, dates
 * relative to now or RFM scores (which age). Only such segments need the sweep.
 */
export function isTimeBased(segment: SegmentDefinition): boolean {
  const facts = requiredFacts(segment.rule);
  return facts.includes('now') || facts.includes('rfm');
}

export interface MembershipChanges {
  /** Segment ids the customer is in now, in definition order. */
  members: string[];
  entered: string[];
  left: string[];
}

/**
 * Pure: the customer's segments given their facts, and how they differ from `previous`.
 * `facts.segments` is ignored and filled in as segments are evaluated, so a segment sees the fresh
 * membership of the segments listed before it. Ids in `previous` that no longer name a
 * segment count as left.
 */
export function membershipChanges(segments: SegmentDefinition[], facts: RuleFacts, previous: string[]): MembershipChanges {
  const members: string[] = [];
  for (const segment of segments) {
    if (evaluateRule(segment.rule, { ...facts, segments: [...members] }).matched) members.push(segment.id);
  }
  const before = new Set(previous);
  const now = new Set(members);
  return {
    members,
    entered: members.filter((id) => !before.has(id)),
    left: previous.filter((id) => !now.has(id)),
  };
}
