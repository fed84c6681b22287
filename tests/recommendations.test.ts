import { describe, expect, it } from 'vitest';
import type { CustomerEvent } from '../domain/customer/types';
import { recommend } from '../domain/delivery/recommendations';

let seq = 0;
const event = (customerId: string, type: string, properties: Record<string, unknown>): CustomerEvent => ({
  id: `r${++seq}`,
  type,
  customerId,
  occurredAt: '2026-11-01T10:00:00Z',
  properties,
});
const order = (customerId: string, ...skus: [string, string][]) =>
  event(customerId, 'order.completed', { items: skus.map(([sku, category]) => ({ sku, name: sku.toUpperCase(), category })) });

const orders = [
  order('a', ['shoes', 'running'], ['socks', 'running']),
  order('b', ['shoes', 'running'], ['socks', 'running'], ['bottle', 'hydration']),
  order('c', ['tent', 'camping'], ['stove', 'camping']),
  order('d', ['tent', 'camping'], ['stove', 'camping']),
  order('e', ['tent', 'camping'], ['shorts', 'running']),
  order('f', ['tent', 'camping']),
];

describe('product recommendations', () => {
  it('picks what others bought together first, then the same category, then best sellers, never what the customer bought or looked at', () => {
    const customerEvents = [event('me', 'product.viewed', { sku: 'shoes', category: 'running' }), order('me', ['cap', 'running'])];
    expect(recommend({ customerEvents, orders, limit: 5 }).map((p) => [p.sku, p.reason])).toEqual([
      ['socks', 'bought together'],
      ['bottle', 'bought together'],
      ['shorts', 'same category'],
      ['tent', 'best seller'],
      ['stove', 'best seller'],
    ]);
  });

  it('leaves out what the email already shows, and falls back to best sellers for a customer with no history', () => {
    expect(recommend({ customerEvents: [], orders, exclude: ['tent'], limit: 2 }).map((p) => [p.sku, p.reason])).toEqual([
      ['shoes', 'best seller'],
      ['socks', 'best seller'],
    ]);
    expect(recommend({ customerEvents: [], orders: [] })).toEqual([]);
  });
});
