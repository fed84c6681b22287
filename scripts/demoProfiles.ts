import type { Profile } from '../domain/customer/types';

/** Loaded on the first start, so the README's walkthrough has customers to send to. */
export const demoProfiles: Profile[] = [
  { customerId: 'c-ada', email: 'ada@example.com', attributes: { firstName: 'Ada', loyaltyTier: 'gold', timezone: 'Europe/London' } },
  { customerId: 'c-ben', email: 'ben@example.com', attributes: { firstName: 'Ben', loyaltyTier: 'silver', timezone: 'America/New_York' } },
  { customerId: 'c-kim', email: 'kim@example.com', attributes: { loyaltyTier: 'bronze', timezone: 'Asia/Tokyo' } },
];
