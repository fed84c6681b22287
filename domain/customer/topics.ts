// Consent topics. Free of zod, since the workflow bundle imports it.

/** The topic whose withdrawal reaches every journey but transactional ones. */
export const GLOBAL_TOPIC = 'all';

/** The topic of journeys that name none, which a spam complaint withdraws. */
export const MARKETING_TOPIC = 'marketing';

/** Whether withdrawing consent for `withdrawn` reaches a journey sending on `topic`. */
export function withdrawalReaches(withdrawn: string, topic: string): boolean {
  return withdrawn === GLOBAL_TOPIC || withdrawn === topic;
}
