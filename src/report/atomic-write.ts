import { open, rename, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Writes a file atomically: temp file in the same directory, fsync, rename, fsync the
 * directory. A crash-testing tool should not leave half-written verdicts behind.
 * @example await writeFileAtomic('store/x/verdict.json', JSON.stringify(verdict))
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${process.pid}.${Date.now()}.tmp`);
  const file = await open(temp, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
