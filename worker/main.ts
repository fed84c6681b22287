// `npm run worker`: the worker role alone (the same as `journeys worker`), for a deployment
// where workers run apart from the API, several of them, on other hosts. Settings as in the README.
import { runRoles } from '../compose/run';

runRoles(['worker'], (line) => console.log(`journeys worker: ${line}`)).then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`journeys worker: ${err.message}`);
    process.exit(1);
  },
);
