/** `losetup -J -l` → loop device → backing file. */
export function parseLoopList(json: string): Map<string, string> {
  const parsed = JSON.parse(json || '{"loopdevices":[]}') as {
    loopdevices?: { name: string; 'back-file': string | null }[];
  };
  return new Map(
    (parsed.loopdevices ?? []).map((d) => [
      d.name,
      (d['back-file'] ?? '').replace(/ \(deleted\)$/, ''),
    ]),
  );
}
