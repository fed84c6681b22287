// Journey definitions as plain types, for code that must never load zod (the workflow
// bundle interprets them). Type-only imports are erased at compile time, so the schema
// stays the single source of these types.
import type { z } from 'zod';
import type { RuleSet } from '../rules/types';
import type { journeySchema, stepSchema } from './schema';

export type JourneyDefinition = z.infer<typeof journeySchema>;
export type JourneyDefinitionInput = z.input<typeof journeySchema>;
export type Step = z.infer<typeof stepSchema>;
export type StepOf<K extends Step['kind']> = Extract<Step, { kind: K }>;
export type WaitStep = StepOf<'wait'>;
export type SplitStep = StepOf<'split'>;
export type TemplateRuleSet = RuleSet<string>;

/** The `JourneyStatus` search attribute's values: how a journey run ended, or that it still runs. */
export type JourneyStatus = 'running' | 'completed' | 'goal_reached' | 'consent_withdrawn';
