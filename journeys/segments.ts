import type { Rule } from '../domain/rules/types';
import type { SegmentDefinitionInput } from '../domain/rules/segments';

/**
 * What counts as customer activity for dormancy. The rule language has no "any event type"
 * predicate, and it should not: segment changes, email deliveries and other system events
 * are recorded as events too and must not wake a dormant customer.
 */
export const ACTIVITY_EVENT_TYPES = ['product.viewed', 'cart.updated', 'order.completed', 'user.signed_up', 'user.logged_in', 'email.clicked'] as const;

const anyActivity = (within?: string): Rule => ({ any: ACTIVITY_EVENT_TYPES.map((type) => ({ event: { type, ...(within && { within }) } })) });

/** The segments this product ships, kept with the journeys; a segment may read those listed before it. */
export const shippedSegments: SegmentDefinitionInput[] = [
  {
    id: 'vip',
    name: 'VIP: gold tier or a top monetary score',
    rule: {
      any: [
        { attr: 'profile.attributes.loyaltyTier', op: 'eq', value: 'gold' },
        { attr: 'rfm.monetaryScore', op: 'gte', value: 4 },
      ],
    },
  },
  {
    id: 'browsedRunningShoes',
    name: 'Viewed running shoes 3+ times in 7 days',
    rule: {
      event: { type: 'product.viewed', where: [{ attr: 'properties.category', op: 'eq', value: 'running-shoes' }], count: { gte: 3 }, within: '7d' },
    },
  },
  {
    // Active once, then silent: a customer who never did anything is not "dormant", just new.
    id: 'dormant60d',
    name: 'Dormant: no activity in 60 days',
    rule: { all: [anyActivity(), { not: anyActivity('60d') }] },
  },
];
