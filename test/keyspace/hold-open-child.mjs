// Child process of keyspace.test.ts: opens a keyspace, says "open", and holds it until killed.
import { Keyspace } from '../../dist/index.js';

const ks = await Keyspace.open(process.argv[2]);
process.stdout.write('open\n');
setInterval(() => ks.seqno, 1000);
