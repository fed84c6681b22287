import { describe, expect, it } from 'vitest';
import type { CustomerEvent } from '../domain/customer/types';
import { parseDuration } from '../domain/time/duration';
import { computeRfm, defaultRfmBands } from '../domain/rules/rfm';

const now = '2024-06-10T12:00:00.000Z';
const ago = (duration: string) => new Date(Date.parse(now) - parseDuration(duration)).toISOString();
let seq = 0;
const event = (type: string, occurredAt: string, properties: Record<string, unknown> = {}): CustomerEvent => ({ id: `e${++seq}`, type, customerId: 'ada', occurredAt, properties });
const order = (when: string, total?: unknown) => event('order.completed', ago(when), total === undefined ? {} : { total });

describe('RFM scores', () => {
  it('gives a customer who never bought null recency and the lowest scores', () => {
    expect(computeRfm([event('product.viewed', ago('1d')), event('cart.updated', ago('2h'), { total: 99 })], now)).toEqual({
      recencyDays: null,
      frequency90d: 0,
      monetary90d: 0,
      recencyScore: 1,
      frequencyScore: 1,
      monetaryScore: 1,
    });
  });

  it('counts purchases and their totals over the 90 days up to now', () => {
    const history = [
      order('2d', 120),
      order('20d', 300.5),
      order('50d', '80'), // an amount sent as a decimal string still counts
      order('60d'), // no amount: a purchase worth 0
      order('100d', 1000), // older than 90 days: recency only
      event('product.viewed', ago('1h'), { total: 5000 }),
      event('order.completed', '2024-06-11T00:00:00.000Z', { total: 999 }), // after now: not history yet
    ];
    expect(computeRfm(history, now)).toEqual({
      recencyDays: 2,
      frequency90d: 4,
      monetary90d: 500.5,
      recencyScore: 5,
      frequencyScore: 4,
      monetaryScore: 4,
    });
  });

  it('rounds money to cents', () => {
    expect(computeRfm([order('1d', 19.99), order('2d', 5.01), order('3d', 0.1), order('4d', 0.2)], now).monetary90d).toBe(25.3);
  });

  it.each([
    ['0d', 5],
    ['7d', 5],
    ['8d', 4],
    ['30d', 4],
    ['31d', 3],
    ['60d', 3],
    ['120d', 2],
    ['121d', 1],
  ])('scores recency: a purchase %s ago scores %i', (when, score) => {
    expect(computeRfm([order(when, 10)], now).recencyScore).toBe(score);
  });

  it('counts recency in whole days', () => {
    expect(computeRfm([order('23h', 10)], now).recencyDays).toBe(0);
    expect(computeRfm([order('25h', 10)], now).recencyDays).toBe(1);
  });

  it.each([
    [0, 1],
    [1, 2],
    [2, 3],
    [4, 4],
    [5, 4],
    [6, 5],
  ])('scores frequency: %i purchases in 90 days score %i', (count, score) => {
    const orders = Array.from({ length: count }, (_, i) => order(`${i + 1}d`, 1));
    expect(computeRfm(orders, now).frequencyScore).toBe(score);
  });

  it.each([
    [49.99, 1],
    [50, 2],
    [150, 3],
    [400, 4],
    [1000, 5],
  ])('scores monetary value: %d in 90 days scores %i', (total, score) => {
    expect(computeRfm([order('1d', total)], now).monetaryScore).toBe(score);
  });

  it('takes the purchase event type, the amount path and the bands as options', () => {
    const history = [event('checkout.paid', ago('3d'), { amount: { value: 60 } }), order('1d', 5000)];
    const scores = computeRfm(history, now, { purchaseType: 'checkout.paid', amountPath: 'properties.amount.value', bands: { monetary90d: [100, 75, 50, 25] } });
    expect(scores).toMatchObject({ recencyDays: 3, frequency90d: 1, monetary90d: 60, monetaryScore: 3 });
    expect(defaultRfmBands.monetary90d).toEqual([1000, 400, 150, 50]);
  });

  it('refuses a now that is not a date', () => {
    expect(() => computeRfm([], 'yesterday')).toThrow('computeRfm needs now as an ISO date, got "yesterday"');
  });
});
