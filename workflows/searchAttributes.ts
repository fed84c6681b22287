import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Typed search attributes operators filter on in the Temporal UI. Customer IDs only:
// never an email address or other personal data.
export const JOURNEY_ID = defineSearchAttributeKey('JourneyId', SearchAttributeType.KEYWORD);
export const JOURNEY_VERSION = defineSearchAttributeKey('JourneyVersion', SearchAttributeType.KEYWORD);
export const CUSTOMER_ID = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
export const JOURNEY_STEP = defineSearchAttributeKey('JourneyStep', SearchAttributeType.KEYWORD);
export const JOURNEY_STATUS = defineSearchAttributeKey('JourneyStatus', SearchAttributeType.KEYWORD);

export const journeySearchAttributes = [JOURNEY_ID, JOURNEY_VERSION, CUSTOMER_ID, JOURNEY_STEP, JOURNEY_STATUS];
