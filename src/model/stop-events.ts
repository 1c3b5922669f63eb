/**
 * Events at which powercut's tracer can stop an engine, with no help from the engine: its Nth
 * acknowledgement (`ok` line), or its Nth syscall of a kind, counted from the engine's start.
 * `sync` is any of fsync, fdatasync, sync_file_range, msync, syncfs, sync; `failed-sync` one of
 * them that returned an error; `store-write` a write to the store; `create` an open with
 * O_CREAT; `dir-fsync` an fsync/fdatasync of a directory.
 */
export const syscallEvents = [
  'fsync',
  'fdatasync',
  'sync',
  'failed-sync',
  'store-write',
  'rename',
  'unlink',
  'create',
  'dir-fsync',
] as const;
export type SyscallEvent = (typeof syscallEvents)[number];
export const stopEvents = ['ack', ...syscallEvents] as const;
export type StopEventName = (typeof stopEvents)[number];
