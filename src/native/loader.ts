import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../package-root.ts';

export type NativeBinding = {
  allocAligned(size: number, alignment: number): Buffer;
  addressMod(buf: Uint8Array): number;
  open(path: string, flags: number): number;
  flags(): Record<
    | 'O_RDONLY'
    | 'O_RDWR'
    | 'O_CREAT'
    | 'O_EXCL'
    | 'O_DIRECT'
    | 'FALLOC_FL_KEEP_SIZE'
    | 'FALLOC_FL_PUNCH_HOLE',
    number
  >;
  close(fd: number): void;
  pwrite(fd: number, buf: Uint8Array, offset: number): number;
  pread(fd: number, buf: Uint8Array, offset: number): number;
  fdatasync(fd: number): void;
  fsync(fd: number): void;
  fallocate(fd: number, mode: number, offset: number, length: number): void;
  blockDeviceSize(fd: number): number;
  fstat(fd: number): { size: number; blocks: number; isBlockDevice: boolean };
  pwriteAsync(fd: number, buf: Uint8Array, offset: number): Promise<number>;
  pwriteBatchAsync(fd: number, bufs: Uint8Array[], offsets: number[]): Promise<number>;
  preadAsync(fd: number, buf: Uint8Array, offset: number): Promise<number>;
  fdatasyncAsync(fd: number): Promise<number>;
  mmap(fd: number, length: number, writable: boolean): Buffer;
  /** The page format's xorshift fill (src/engine/page-format.ts holds the reference loop). */
  fillXorshift?(out: Uint8Array, from: number, seed: number): void;
  /** Present only where the CPU has a crc32 instruction (x86-64 SSE4.2). */
  crc32c?(bytes: Uint8Array, crc: number): number;
  crc32cZeroingField?(bytes: Uint8Array, fieldOffset: number): number;
  /** A whole page in the engines' format (src/engine/page-format.ts); with crc32c only. */
  encodePage?(out: Uint8Array, kind: number, page: number, seq: bigint, payload: Uint8Array): void;
  msync(buf: Uint8Array, offset: number, length: number): void;
  dmCreate(
    name: string,
    targetType: string,
    sectors: number,
    params: string,
  ): { major: number; minor: number };
  dmRemove(name: string): void;
  mknodBlock(path: string, major: number, minor: number): void;
  mount(source: string, target: string, fstype: string): void;
  umount(target: string): void;
};

const fileName = 'powercut_native.node';

/**
 * Finds the built addon (better-sqlite3 style, one place): $POWERCUT_NATIVE, then beside the
 * running bundle (the guest copy), then native/build/Release, then native/build/Debug.
 */
export function nativeCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = packageRoot();
  return [
    process.env.POWERCUT_NATIVE,
    join(here, fileName),
    ...(root
      ? [join(root, 'native/build/Release', fileName), join(root, 'native/build/Debug', fileName)]
      : []),
  ].filter((p): p is string => !!p);
}

let cached: NativeBinding | undefined;

export function loadNative(): NativeBinding {
  if (cached) return cached;
  const found = nativeCandidates().find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `powercut native addon not built: none of ${nativeCandidates().join(', ')} exists (run npm run build:native)`,
    );
  cached = createRequire(import.meta.url)(found) as NativeBinding;
  return cached;
}

/** The addon, or undefined where it is not built (for callers with a JS fallback). */
export function tryLoadNative(): NativeBinding | undefined {
  try {
    return loadNative();
  } catch {
    return undefined;
  }
}

/**
 * One of the addon's optional functions, looked up at its first use (not at start-up: the CLI's
 * start stays), or null where the addon or that function is missing (the caller's JS fallback).
 */
export function lazyNative<K extends keyof NativeBinding>(
  name: K,
): () => NonNullable<NativeBinding[K]> | null {
  let found: NonNullable<NativeBinding[K]> | null | undefined;
  return () => {
    if (found === undefined) found = (tryLoadNative()?.[name] as NativeBinding[K]) ?? null;
    return found;
  };
}
