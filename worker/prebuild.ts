// `npm run build`: prepares the workflow bundle a worker loads, ahead of a deploy, so the first
// start on a host runs no webpack either. Prints where it is.
import { cacheDir } from '../config/cacheDir';
import { cachedWorkflowBundle } from './bundle';

cachedWorkflowBundle(cacheDir(), (line) => console.log(line)).then(
  ({ codePath }) => console.log(`workflow bundle: ${codePath}`),
  (err: Error) => {
    console.error(`cannot bundle the workflows: ${err.message}`);
    process.exit(1);
  },
);
