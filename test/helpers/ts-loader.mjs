// The TypeScript loader of the test suite (tap's node-arg, spawnTs children, and the
// worker threads they start, which inherit execArgv): tsx's hooks, registered through its
// API because its --import entry skips worker threads on Node 20. No type check here.
import { register } from 'tsx/esm/api';

register();
