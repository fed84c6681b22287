import { existsSync } from 'node:fs';
import { join } from 'node:path';

// The interpreter's entry: TypeScript when run from the sources, JavaScript from a build (dist/).
export const WORKFLOWS_PATH = ['index.js', 'index.ts'].map((file) => join(__dirname, '..', 'workflows', file)).find((path) => existsSync(path)) ?? '';
