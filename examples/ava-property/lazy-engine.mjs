#!/usr/bin/env node
// A deliberately broken engine, in plain JavaScript (runs on the guest's node), speaking the
// powercut engine protocol v1: it acknowledges a write as soon as pwrite returns and calls
// fdatasync only every 50 writes ("we'll sync soon"). powercut catches it.
import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [verb, ...args] = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const store = arg('--store');
const pageSize = Number(arg('--page-size', '4096'));
const fd = openSync(store, verb === 'run' ? 'r+' : 'r');
const now = () => Number(process.hrtime.bigint());
const out = (event) => process.stdout.write(`${JSON.stringify({ ...event, t: now() })}\n`);

if (verb === 'run') {
  let unsynced = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const op = JSON.parse(line);
    if (op.op !== 'write') continue;
    out({ id: op.id, type: 'invoke' });
    const page = Buffer.alloc(pageSize);
    page.write(JSON.stringify({ v: op.value }));
    writeSync(fd, page, 0, pageSize, op.page * pageSize);
    out({ id: op.id, type: 'ok' }); // the bug: acknowledged before anything is durable
    if (++unsynced === 50) {
      fdatasyncSync(fd);
      unsynced = 0;
    }
  }
} else if (verb === 'dump') {
  const pages = Math.floor(fstatSync(fd).size / pageSize);
  const page = Buffer.alloc(pageSize);
  for (let p = 0; p < pages; p++) {
    readSync(fd, page, 0, pageSize, p * pageSize);
    const text = page.toString('utf8').replace(/\0+$/, '');
    let entry;
    try {
      entry = { page: p, value: text ? JSON.parse(text).v : null };
    } catch {
      entry = { page: p, error: 'checksum' };
    }
    process.stdout.write(`${JSON.stringify(entry)}\n`);
  }
}
closeSync(fd);
