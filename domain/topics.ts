/**
 * The consent topic whose withdrawal is a global opt-out: every journey but transactional
 * ones. Its own zod-free module, since the workflow bundle imports it.
 */
export const GLOBAL_TOPIC = 'all';
