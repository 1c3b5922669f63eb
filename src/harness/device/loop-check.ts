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

/** loopListScript's `DEVICE BACKING-FILE` lines → loop device → backing file. */
export function parseLoopLines(text: string): Map<string, string> {
  const loops = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf(' ');
    if (at > 0) loops.set(line.slice(0, at), line.slice(at + 1).replace(/ \(deleted\)$/, ''));
  }
  return loops;
}
