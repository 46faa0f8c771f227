// Keyspace.open(dir, { readOnly: true }): reads a keyspace or checkpoint without writing a
// byte to it (no LOCK, no recovery written, no flush or compaction), refuses every write
// with CAIRN_READ_ONLY, and works on read-only media (a tmpfs remounted read-only).
import t from 'tap';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Keyspace, ErrorCodes } from '../../lib/index.js';
import { FaultFileSystem, NodeFileSystem } from '../../lib/fs/index.js';
import { scratchDir } from '../helpers/scratch.js';
import { mountTmpfs } from '../helpers/tmpfs.js';

/** Every file under `dir` with its size, modification time and content hash. */
async function fingerprint(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const s = await stat(p);
      if (s.isDirectory()) {
        out.push(`${relative(dir, p)}/ ${s.mtimeMs}`);
        await walk(p);
      } else {
        out.push(`${relative(dir, p)} ${s.size} ${s.mtimeMs} ${createHash('sha256').update(await readFile(p)).digest('hex')}`);
      }
    }
  };
  await walk(dir);
  return out;
}

/** A closed keyspace with data in segments and more only in the journal, in two partitions. */
async function makeKeyspace(dir: string): Promise<void> {
  const ks = await Keyspace.open(dir, { memtableBytes: 4096 });
  const users = await ks.partition('users');
  const logs = await ks.partition('logs');
  for (let i = 0; i < 200; i++) await users.put(`u${String(i).padStart(4, '0')}`, `value-${i}`);
  await ks.flush();
  for (let i = 0; i < 20; i++) await logs.put(`l${i}`, `journal-only-${i}`);
  await users.delete('u0000');
  await ks.close();
}

t.test('a read-only open reads everything and changes nothing on disk', async (t) => {
  const dir = join(await scratchDir(t, 'read-only'), 'ks');
  await makeKeyspace(dir);
  // Debris a crash could leave: a read-only open must leave it (a writable open removes it).
  const debris = join(dir, 'partitions', 'users', 'segments', '000999.sst.tmp-dead');
  await writeFile(debris, 'half a segment');
  const before = await fingerprint(dir);

  const fs = new FaultFileSystem(new NodeFileSystem());
  const ks = await Keyspace.open(dir, { readOnly: true, fs });
  t.equal(ks.readOnly, true);
  t.same(ks.partitionNames(), ['logs', 'users']);
  const users = await ks.partition('users');
  const logs = await ks.partition('logs');
  t.equal(await users.get('u0000'), undefined, 'the journal-only delete is seen');
  t.equal((await users.get('u0199'))?.toString(), 'value-199', 'flushed data is read from segments');
  t.equal((await logs.get('l19'))?.toString(), 'journal-only-19', 'journal-only data is replayed into memory');
  let count = 0;
  for await (const _ of users.keys()) count++;
  t.equal(count, 199, 'an iterator sees the same view');
  const snap = ks.snapshot();
  t.equal((await logs.get('l0', { snapshot: snap }))?.toString(), 'journal-only-0', 'snapshots work');
  snap.release();
  const stats = ks.stats();
  t.equal(stats.seqno, ks.seqno);
  t.ok(stats.journal.bytes > 0, 'stats report the journal replayed');

  const readOnly = { code: ErrorCodes.READ_ONLY };
  await t.rejects(users.put('x', 'y'), readOnly, 'put');
  await t.rejects(users.delete('u0001'), readOnly, 'delete');
  await t.rejects(ks.batch().put(users, 'x', 'y').commit(), readOnly, 'batch');
  await t.rejects(ks.flush(), readOnly, 'flush');
  await t.rejects(ks.compact(), readOnly, 'compact');
  await t.rejects(ks.backupTo(join(dir, '..', 'checkpoint')), readOnly, 'backupTo');
  await t.rejects(ks.deletePartition('logs'), readOnly, 'deletePartition');
  await t.rejects(ks.partition('new'), { code: ErrorCodes.NOT_FOUND }, 'a missing partition is not created');
  t.notOk(existsSync(join(dir, '..', 'checkpoint')), 'the refused checkpoint made nothing');
  await ks.close();

  t.same(fs.trace({ mutatingOnly: true }), [], 'no mutating call went through the file system seam');
  t.equal(fs.mutations, 0);
  t.notOk(fs.trace().some((line) => line.startsWith('lock')), 'no LOCK was taken');
  t.same(await fingerprint(dir), before, 'every file and directory is as it was (contents and times)');
  t.ok(existsSync(debris), 'debris is left for the next writable open');
});

t.test('a read-only open beside a writer that holds the LOCK sees the directory as it was', async (t) => {
  const dir = join(await scratchDir(t, 'read-only'), 'ks');
  await makeKeyspace(dir);
  const writer = await Keyspace.open(dir);
  t.teardown(() => writer.close());
  const users = await writer.partition('users');
  await users.put('after', 'written while the reader opened');
  const reader = await Keyspace.open(dir, { readOnly: true });
  t.equal((await (await reader.partition('users')).get('after'))?.toString(), 'written while the reader opened', 'what was journaled before the open is seen');
  await users.put('later', 'x');
  t.equal(await (await reader.partition('users')).get('later'), undefined, 'writes after the open are not');
  await reader.close();
  await t.rejects(Keyspace.open(dir), { code: ErrorCodes.LOCKED }, 'a second writer is still refused');
});

t.test('a torn journal tail is skipped, not cut off', async (t) => {
  const dir = join(await scratchDir(t, 'read-only'), 'ks');
  await makeKeyspace(dir);
  const journals = (await readdir(join(dir, 'journal'))).filter((n) => n.endsWith('.jnl')).sort();
  const newest = join(dir, 'journal', journals.at(-1) as string);
  await appendFile(newest, Buffer.from([0x13, 0x37, 0x00, 0x42, 0x99]));
  const size = (await stat(newest)).size;
  const ks = await Keyspace.open(dir, { readOnly: true });
  t.equal((await (await ks.partition('logs')).get('l19'))?.toString(), 'journal-only-19', 'the records before the torn tail are read');
  await ks.close();
  t.equal((await stat(newest)).size, size, 'the journal keeps its torn bytes');
  const writable = await Keyspace.open(dir);
  await writable.close();
  t.ok((await stat(newest)).size < size, 'a writable open cuts them off');
});

t.test('modes: nothing is created, and contradictions are refused before any I/O', async (t) => {
  const root = await scratchDir(t, 'read-only');
  const missing = join(root, 'missing');
  await t.rejects(Keyspace.open(missing, { readOnly: true }), { code: ErrorCodes.NOT_FOUND });
  t.notOk(existsSync(missing), 'a missing keyspace is not created');
  await t.rejects(Keyspace.open(root, { readOnly: true, createIfMissing: true }), { code: ErrorCodes.NOT_FOUND }, 'createIfMissing does not apply');
  t.same(await readdir(root), [], 'the empty directory stays empty');
  await t.rejects(Keyspace.open(join(root, 'ks'), { readOnly: true, errorIfExists: true }), RangeError);
  await t.rejects(Keyspace.open(join(root, 'ks'), { readOnly: 'yes' } as never), TypeError);
});

t.test('on read-only media (a tmpfs remounted read-only)', async (t) => {
  const mount = mountTmpfs(t, 8);
  if (mount === undefined) {
    t.pass('not root: the seam test above proves no write is issued');
    return;
  }
  const dir = join(mount, 'ks');
  await makeKeyspace(dir);
  execFileSync('mount', ['-o', 'remount,ro', mount]);
  t.teardown(() => execFileSync('mount', ['-o', 'remount,rw', mount]));
  await t.rejects(writeFile(join(mount, 'probe'), 'x'), { code: 'EROFS' }, 'the medium is read-only');
  await t.rejects(Keyspace.open(dir), { code: 'EROFS' }, 'a writable open cannot take its LOCK');
  const ks = await Keyspace.open(dir, { readOnly: true });
  t.equal((await (await ks.partition('logs')).get('l7'))?.toString(), 'journal-only-7');
  t.equal((await (await ks.partition('users')).get('u0100'))?.toString(), 'value-100');
  await ks.close();
});
