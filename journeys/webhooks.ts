import type { WebhookMappingInput } from '../domain/sources/webhookMapping';

/**
 * The signed webhooks journeys takes, each at POST /v1/sources/webhook/<name> with its secret in
 * WEBHOOK_SECRETS: how its payload becomes an event. A path is `$` and `.name` / `[index]`
 * steps; a value may be `{path, as: 'number' | 'string', prefix, optional}` or `{const}`; a list
 * is `{each, fields}`, with the fields' paths read from each element. A new webhook is one more
 * entry here (and its secret), no code.
 */
export const shippedWebhooks: WebhookMappingInput[] = [
  {
    // A Shopify-style order (the orders/create topic's payload): the order that ends a cart's
    // abandonment journey, and feeds recommendations and RFM.
    name: 'shopify-orders',
    // The numeric id has 18 digits; the GraphQL id names the order the same and is text already.
    id: '$.admin_graphql_api_id',
    type: { const: 'order.completed' },
    customerId: '$.customer.id',
    occurredAt: '$.created_at',
    properties: {
      orderId: { path: '$.id', as: 'string' },
      // The cart's token: cartAbandonment ends for the cart with this id, so the shop's cart.updated events carry the same token as cartId.
      cartId: { path: '$.cart_token', optional: true },
      total: { path: '$.total_price', as: 'number' },
      currency: '$.currency',
      items: {
        each: '$.line_items',
        fields: {
          sku: { path: '$.sku', optional: true },
          name: '$.title',
          quantity: '$.quantity',
          price: { path: '$.price', as: 'number' },
        },
      },
    },
  },
];
