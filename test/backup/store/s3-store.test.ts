// S3Store against a real S3 endpoint on loopback (s3rver): the conformance suite. URL
// parsing, error codes and outages are in s3-store-outage.test.ts (kept apart so each file
// stays quick).
import t from 'tap';
import { openStore } from '../../../lib/backup/open-store.js';
import { startS3Server } from '../../helpers/s3-server.js';
import { runStoreConformance } from './conformance.js';

// The SDK warns once per process that it will need Node 22 from 2027; noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const MiB = 1024 * 1024;
const server = await startS3Server(t);
let nextPrefix = 0;

// s3rver walks its own directories to list, so 'a/…' comes before 'a-…' and 'a.…'; real S3 lists in byte order.
runStoreConformance(
  t,
  's3:// (s3rver)',
  async (t) => {
    const store = await openStore(server.urlWith({ partSize: String(5 * MiB) }, `conformance/${nextPrefix++}`));
    t.teardown(() => store.close());
    return store;
  },
  { listsInDirectoryOrder: true, overwritesInPlace: true },
);
