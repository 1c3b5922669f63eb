import { loadNative } from './loader.ts';

/** Logical block size O_DIRECT needs buffers, offsets and lengths aligned to. */
export const DIRECT_ALIGNMENT = 4096;

const n = () => loadNative();

function int(name: string, v: number, min = 0): void {
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
}

/**
 * A zeroed buffer whose memory starts at a multiple of `alignment` (posix_memalign; freed by GC).
 * @example const page = allocAligned(4096); isAligned(page) === true
 */
export function allocAligned(size: number, alignment = DIRECT_ALIGNMENT): Buffer {
  int('size', size);
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    throw new RangeError(`alignment must be a power of two, got ${alignment}`);
  return n().allocAligned(size, alignment);
}

/** Whether the buffer's memory address is a multiple of `alignment`. @example isAligned(allocAligned(512)) */
export function isAligned(buf: Uint8Array, alignment = DIRECT_ALIGNMENT): boolean {
  return n().addressMod(buf) % alignment === 0;
}

export type OpenOptions = {
  direct?: boolean;
  create?: boolean;
  exclusive?: boolean;
  readOnly?: boolean;
};

/** open(2) with O_CLOEXEC (and O_DIRECT when asked); returns the fd. @example const fd = openFile('/tmp/x', { create: true }) */
export function openFile(path: string, options: OpenOptions = {}): number {
  const f = n().flags();
  let flags = options.readOnly ? f.O_RDONLY : f.O_RDWR;
  if (options.direct) flags |= f.O_DIRECT;
  if (options.create) flags |= f.O_CREAT;
  if (options.exclusive) flags |= f.O_EXCL;
  return n().open(path, flags);
}

export function closeFile(fd: number): void {
  n().close(fd);
}

/**
 * pwrite(2) of the whole buffer. With O_DIRECT, an unaligned buffer, offset or length fails
 * with EINVAL — from the kernel; this wrapper only adds the reason to the message.
 * @example pwrite(fd, allocAligned(4096), 0)
 */
export function pwrite(fd: number, buf: Uint8Array, offset: number): number {
  int('offset', offset);
  return explain(() => n().pwrite(fd, buf, offset), buf, offset);
}

/** pread(2) into the buffer; fewer bytes at end of file. @example pread(fd, allocAligned(4096), 0) */
export function pread(fd: number, buf: Uint8Array, offset: number): number {
  int('offset', offset);
  return explain(() => n().pread(fd, buf, offset), buf, offset);
}

export const fdatasync = (fd: number): void => n().fdatasync(fd);
export const fsync = (fd: number): void => n().fsync(fd);

export async function pwriteAsync(fd: number, buf: Uint8Array, offset: number): Promise<number> {
  int('offset', offset);
  return explainAsync(n().pwriteAsync(fd, buf, offset), buf, offset);
}

/**
 * Several pwrites in one pool job, in order; resolves with the bytes written. Every write is
 * attempted; the first failure rejects once all have run (none is left in flight).
 * @example await pwriteBatchAsync(fd, [pageA, pageB], [0, 8192])
 */
export async function pwriteBatchAsync(
  fd: number,
  bufs: Uint8Array[],
  offsets: number[],
): Promise<number> {
  if (bufs.length !== offsets.length)
    throw new RangeError(`${bufs.length} buffers but ${offsets.length} offsets`);
  offsets.forEach((offset) => int('offset', offset));
  try {
    return await n().pwriteBatchAsync(fd, bufs, offsets);
  } catch (error) {
    const bad = bufs.findIndex((buf, i) => unaligned(buf, offsets[i]!));
    throw bad < 0 ? error : decorate(error, bufs[bad]!, offsets[bad]!);
  }
}

export async function preadAsync(fd: number, buf: Uint8Array, offset: number): Promise<number> {
  int('offset', offset);
  return explainAsync(n().preadAsync(fd, buf, offset), buf, offset);
}

export async function fdatasyncAsync(fd: number): Promise<void> {
  await n().fdatasyncAsync(fd);
}

/** Releases the blocks of a range; the file's size stays (seed item 6). @example punchHole(fd, 4096, 8192) */
export function punchHole(fd: number, offset: number, length: number): void {
  int('offset', offset);
  int('length', length, 1);
  const f = n().flags();
  n().fallocate(fd, f.FALLOC_FL_PUNCH_HOLE | f.FALLOC_FL_KEEP_SIZE, offset, length);
}

/** Allocates blocks for a range (fallocate mode 0), growing the file if needed. @example preallocate(fd, 0, 1 << 20) */
export function preallocate(fd: number, offset: number, length: number): void {
  int('offset', offset);
  int('length', length, 1);
  n().fallocate(fd, 0, offset, length);
}

/**
 * Maps the first `length` bytes of a file shared (unmapped when the buffer is collected).
 * @example const map = mmapFile(fd, 1 << 20, true); map[0] = 1; msyncRange(map, 0, 4096);
 */
export function mmapFile(fd: number, length: number, writable = false): Buffer {
  int('length', length, 1);
  return n().mmap(fd, length, writable);
}

/** msync(MS_SYNC) of a range of a mapping: the durability point of mmap writes. */
export function msyncRange(map: Uint8Array, offset: number, length: number): void {
  int('offset', offset);
  int('length', length, 1);
  if (offset + length > map.length) throw new RangeError('range beyond the mapping');
  n().msync(map, offset, length);
}

/** Size, allocated 512-byte blocks and whether it is a block device. */
export const fstat = (fd: number) => n().fstat(fd);
export const blockDeviceSize = (fd: number): number => n().blockDeviceSize(fd);

const directHint = ` (O_DIRECT needs the buffer address, offset and length aligned to ${DIRECT_ALIGNMENT} bytes, the logical block size)`;

function unaligned(buf: Uint8Array, offset: number): boolean {
  return !isAligned(buf) || offset % DIRECT_ALIGNMENT !== 0 || buf.length % DIRECT_ALIGNMENT !== 0;
}

function explain<T>(call: () => T, buf: Uint8Array, offset: number): T {
  try {
    return call();
  } catch (error) {
    throw decorate(error, buf, offset);
  }
}

async function explainAsync<T>(call: Promise<T>, buf: Uint8Array, offset: number): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw decorate(error, buf, offset);
  }
}

function decorate(error: unknown, buf: Uint8Array, offset: number): unknown {
  if (
    error instanceof Error &&
    (error as { code?: string }).code === 'EINVAL' &&
    unaligned(buf, offset)
  ) {
    error.message += directHint;
  }
  return error;
}

/**
 * A device-mapper device of one target, made through /dev/mapper/control's ioctls (create,
 * load, resume) as dmsetup does, without a process; its device number. Linux, root.
 * @example const dev = dmCreate('powercut-x-state', 'snapshot', sectors, '/dev/loop0 /dev/loop1 N 8');
 */
export function dmCreate(
  name: string,
  targetType: string,
  sectors: number,
  params: string,
): { major: number; minor: number } {
  int('sectors', sectors, 1);
  return n().dmCreate(name, targetType, sectors, params);
}

/** Removes a device-mapper device by name (EBUSY while it is open). @example dmRemove('powercut-x-state') */
export const dmRemove = (name: string): void => n().dmRemove(name);

/** A block device node for a device number (mode 0600). @example mknodBlock('/run/x/dev', 253, 0) */
export const mknodBlock = (path: string, major: number, minor: number): void =>
  n().mknodBlock(path, major, minor);

/** mount(2) with no flags and no options. @example mountDevice('/run/x/dev', '/mnt/x', 'ext4') */
export const mountDevice = (source: string, target: string, fstype: string): void =>
  n().mount(source, target, fstype);

/** umount2(2) with no flags. @example unmount('/mnt/x') */
export const unmount = (target: string): void => n().umount(target);
