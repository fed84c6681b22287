import type { ActivityDeps } from './index';

export interface TagProfileInput {
  customerId: string;
  attribute: string;
  value: string | number | boolean;
}

export type TagProfileResult = { status: 'tagged'; previous?: unknown } | { status: 'no_profile' };

/**
 * Sets one attribute on the customer's profile; `upsertProfiles` merges attributes, so the
 * others stay. The profile is read first: an upsert needs the email, and a customer
 * without a profile (erased, or never imported) must not get one from a journey, so they
 * are left alone and the workflow records that. Setting the same value again is harmless,
 * so retries are safe.
 */
export function createTagProfile(deps: Pick<ActivityDeps, 'store'>) {
  return async function tagProfile(input: TagProfileInput): Promise<TagProfileResult> {
    const profile = await deps.store.getProfile(input.customerId);
    if (!profile) return { status: 'no_profile' };
    const previous = profile.attributes[input.attribute];
    await deps.store.upsertProfiles([{ customerId: profile.customerId, email: profile.email, attributes: { [input.attribute]: input.value } }]);
    return { status: 'tagged', ...(previous !== undefined && { previous }) };
  };
}
