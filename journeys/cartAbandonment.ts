import type { JourneyDefinitionInput } from '../domain/journey/types';
import type { Rule } from '../domain/rules/types';

// Gold-tier customers and big carts get the VIP variant of every email.
const vip: Rule = {
  any: [
    { attr: 'profile.attributes.loyaltyTier', op: 'eq', value: 'gold' },
    { attr: 'event.properties.total', op: 'gt', value: 200 },
  ],
};
const variants = (standard: string) => ({
  rules: [{ name: 'vip', when: vip, use: `${standard}Vip` }],
  fallback: standard,
});

export const cartAbandonment: JourneyDefinitionInput = {
  id: 'cartAbandonment',
  name: 'Cart abandonment',
  topic: 'marketing',
  // The first reminder is due an hour after the cart; a cart update over 6 hours old reaching
  // us late would only remind about a cart the customer has long moved on from.
  trigger: { event: 'cart.updated', entryKey: 'properties.cartId', maxAge: '6h' },
  reentry: 'once',
  goals: [{ event: 'order.completed' }],
  steps: [
    { id: 'waitBeforeReminder1', kind: 'wait', duration: '1h' },
    { id: 'reminder1', kind: 'send', template: variants('reminder1') },
    { id: 'waitBeforeReminder2', kind: 'wait', duration: '24h' },
    { id: 'reminder2', kind: 'send', template: variants('reminder2') },
    { id: 'waitBeforeLastChance', kind: 'wait', duration: '72h' },
    { id: 'lastChance', kind: 'send', template: variants('lastChance') },
    { id: 'done', kind: 'exit' },
  ],
};
