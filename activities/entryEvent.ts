import type { CustomerEvent } from '../domain/customer/types';
import type { Store } from '../store/types';

/**
 * The journey's entry event as it was recorded. Workflows hold only the properties the
 * interpreter reads (see `slimEvent`), so an activity that renders or decides on the event
 * (templates, rules, event dates) loads the whole event by id; one the store no longer has
 * (erased, or a journey started without the store) is used as given.
 */
export async function loadEntryEvent(store: Pick<Store, 'eventById'>, event: CustomerEvent): Promise<CustomerEvent> {
  return (await store.eventById(event.id)) ?? event;
}
