import type { JourneyDefinitionInput } from '../domain/journey/types';

// Transactional: the receipt goes out whatever the customer's marketing consent, frequency
// caps or quiet hours, but never to a suppressed address.
export const orderReceipt: JourneyDefinitionInput = {
  id: 'orderReceipt',
  name: 'Order receipt',
  topic: 'orders',
  transactional: true,
  // Half an hour late is still a receipt; an imported or replayed old order is not.
  trigger: { event: 'order.completed', entryKey: 'properties.orderId', maxAge: '30m' },
  reentry: 'once',
  steps: [
    { id: 'receipt', kind: 'send', template: { rules: [], fallback: 'receipt' } },
    { id: 'done', kind: 'exit' },
  ],
};
