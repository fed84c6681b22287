import type { Transporter } from 'nodemailer';
import type { ConsentStatus } from '../domain/customer';
import type { TemplateRenderer } from '../domain/templates';
import type { Store } from '../store/types';
import { createSendStep } from './sendStep';

export type { SendStepInput, SendStepResult } from './sendStep';

export interface ActivityDeps {
  store: Store;
  mailer: Transporter;
  /** The From address of every email, e.g. "Shop <hello@shop.example.com>". */
  from: string;
  templates: TemplateRenderer;
  /** Consent a customer has on a topic before any record of theirs exists in the ledger. */
  consentDefault: (topic: string) => ConsentStatus;
  now: () => Date;
}

export function createActivities(deps: ActivityDeps) {
  return { sendStep: createSendStep(deps) };
}
