// How a signed webhook's payload becomes our event: a mapping per webhook name, declared with
// the journeys (journeys/webhooks.ts), from JSON paths in the payload to the event's fields.
// Pure: reading a parsed payload, no I/O.
import { z } from 'zod';
import type { Problem } from './segmentSpec';

/** `$`, then `.name` or `[index]` steps: `$.customer.id`, `$.line_items[0].sku`. */
const JSON_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/;
const jsonPath = z.string().regex(JSON_PATH, 'a JSON path of names and indexes, e.g. "$.customer.id" or "$.line_items[0].sku"');

/**
 * One value of the event: a JSON path, or `{path, as, prefix, optional}` to convert it (`as:
 * 'number'` turns Shopify's "199.00" into 199; `prefix` is put before it), or `{const}`.
 */
const valueSchema = z.union([
  jsonPath,
  z.strictObject({
    path: jsonPath,
    as: z.enum(['string', 'number']).optional(),
    prefix: z.string().max(100).optional(),
    /** Left out of the event when the payload lacks it or has null, instead of refusing the payload. */
    optional: z.boolean().optional(),
  }),
  z.strictObject({ const: z.union([z.string(), z.number(), z.boolean()]) }),
]);
type ValueSpec = z.infer<typeof valueSchema>;

/** A list in the payload mapped element by element, e.g. order lines to `items`. */
const listSchema = z.strictObject({ each: jsonPath, fields: z.record(z.string(), valueSchema), optional: z.boolean().optional() });
const propertySchema = z.union([valueSchema, listSchema]);

export const WEBHOOK_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const webhookMappingSchema = z.strictObject({
  /** The last part of the route: POST /v1/sources/webhook/<name>; its secret is WEBHOOK_SECRETS's entry of that name. */
  name: z.string().regex(WEBHOOK_NAME, 'use 1 to 64 lower-case letters, digits, "_" or "-", starting with a letter or digit'),
  id: valueSchema,
  type: valueSchema,
  customerId: valueSchema,
  occurredAt: valueSchema.optional(),
  properties: z.record(z.string(), propertySchema).default({}),
});
export type WebhookMappingInput = z.input<typeof webhookMappingSchema>;
export type WebhookMapping = z.infer<typeof webhookMappingSchema>;

/** Validates the declared mappings once, at start: each problem names the mapping and the field. */
export function parseWebhookMappings(inputs: WebhookMappingInput[]): Map<string, WebhookMapping> {
  const mappings = new Map<string, WebhookMapping>();
  inputs.forEach((input, index) => {
    const parsed = webhookMappingSchema.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(mapping)'}: ${issue.message}`);
      throw new Error(`webhook mapping ${JSON.stringify(input?.name ?? index)} is invalid: ${problems.join('; ')}`);
    }
    if (mappings.has(parsed.data.name)) throw new Error(`webhook mapping "${parsed.data.name}" is declared twice`);
    mappings.set(parsed.data.name, parsed.data);
  });
  return mappings;
}

type Found = { found: true; value: unknown } | { found: false };

/** The value at a JSON path; only own properties are read, so `$.__proto__` finds nothing. */
export function readJsonPath(payload: unknown, path: string): Found {
  let value = payload;
  for (const [, name, index] of path.slice(1).matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g)) {
    const key = name ?? Number(index);
    if (value === null || typeof value !== 'object' || Array.isArray(value) !== (name === undefined) || !Object.hasOwn(value, key)) return { found: false };
    value = (value as Record<string | number, unknown>)[key];
  }
  return { found: true, value };
}

/** The event a payload maps to, with where in the payload each of its fields came from; or every problem, by payload path. */
export type MappedEvent =
  | { event: { id: unknown; type: unknown; customerId: unknown; occurredAt?: unknown; properties: Record<string, unknown> }; sources: Map<string, string> }
  | { problems: Problem[] };

export function mapWebhookPayload(mapping: WebhookMapping, payload: unknown): MappedEvent {
  const problems: Problem[] = [];
  const sources = new Map<string, string>();
  /** The value `spec` reads from `from`, which sits at `root` in the payload; fields of the event itself are text. */
  const value = (spec: ValueSpec, field: string, from: unknown, root: string, text = false): unknown => {
    if (typeof spec === 'object' && 'const' in spec) return spec.const;
    const read: Exclude<ValueSpec, string | { const: unknown }> = typeof spec === 'string' ? { path: spec } : spec;
    const { path, as = text ? 'string' : undefined, prefix, optional } = read;
    const where = `${root}${path.slice(1)}`;
    sources.set(field, where);
    const found = readJsonPath(from, path);
    if (!found.found || found.value === null) {
      if (!optional) problems.push({ path: where, message: `${field}: the payload has no value here` });
      return undefined;
    }
    const converted = convert(found.value, prefix === undefined ? as : 'string');
    if ('problem' in converted) {
      problems.push({ path: where, message: `${field}: ${converted.problem}` });
      return undefined;
    }
    return prefix === undefined ? converted.value : `${prefix}${String(converted.value)}`;
  };

  const event = {
    id: value(mapping.id, 'id', payload, '$', true),
    type: value(mapping.type, 'type', payload, '$', true),
    customerId: value(mapping.customerId, 'customerId', payload, '$', true),
    ...(mapping.occurredAt !== undefined && { occurredAt: value(mapping.occurredAt, 'occurredAt', payload, '$', true) }),
    properties: {} as Record<string, unknown>,
  };
  for (const [name, spec] of Object.entries(mapping.properties)) {
    const field = `properties.${name}`;
    if (typeof spec !== 'object' || !('each' in spec)) {
      const mapped = value(spec, field, payload, '$');
      if (mapped !== undefined) event.properties[name] = mapped;
      continue;
    }
    sources.set(field, spec.each);
    const list = readJsonPath(payload, spec.each);
    if (!list.found || list.value === null) {
      if (!spec.optional) problems.push({ path: spec.each, message: `${field}: the payload has no list here` });
      continue;
    }
    if (!Array.isArray(list.value)) {
      problems.push({ path: spec.each, message: `${field}: expected a list, found ${kindOf(list.value)}` });
      continue;
    }
    event.properties[name] = list.value.map((element, index) =>
      Object.fromEntries(
        Object.entries(spec.fields).flatMap(([key, fieldSpec]) => {
          const mapped = value(fieldSpec, `${field}.${index}.${key}`, element, `${spec.each}[${index}]`);
          return mapped === undefined ? [] : [[key, mapped]];
        }),
      ),
    );
  }
  return problems.length > 0 ? { problems } : { event, sources };
}

function convert(value: unknown, as: 'string' | 'number' | undefined): { value: unknown } | { problem: string } {
  const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
  if (as === 'number') {
    const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isFinite(number) ? { value: number } : { problem: `expected a number, found ${kindOf(value)}` };
  }
  if (as === 'string') return scalar ? { value: String(value) } : { problem: `expected a string or a number, found ${kindOf(value)}` };
  return { value };
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}
