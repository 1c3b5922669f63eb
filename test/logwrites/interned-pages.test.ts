import test from 'ava';
import { encodePage, encodeValue, PageKind } from '../../src/engine/page-format.ts';
import { InternedPages } from '../../src/logwrites/interned-pages.ts';

const pageSize = 512;
const image = (...fills: number[]): Uint8Array => {
  const bytes = new Uint8Array(fills.length * pageSize);
  fills.forEach((fill, i) => bytes.fill(fill, i * pageSize, (i + 1) * pageSize));
  return bytes;
};

test('the same bytes give the same key, a page changed another; each distinct page is kept once', (t) => {
  const pages = new InternedPages(pageSize);
  const a = pages.intern(image(1, 2, 1));
  t.is(pages.size, 2, 'pages 0 and 2 are one page');
  t.is(a.image.page(0), a.image.page(2), 'the very same buffer');
  t.is(pages.intern(image(1, 2, 1)).key, a.key);
  const b = pages.intern(image(1, 3, 1));
  t.not(b.key, a.key);
  t.is(b.image.page(0), a.image.page(0), 'unchanged pages are shared between images');
  t.is(pages.size, 3);
  t.is(pages.intern(image(2, 1, 1)).key === a.key, false, 'the same pages in another order differ');
});

test("an image keeps its own copies: the caller's buffer may change after", (t) => {
  const pages = new InternedPages(pageSize);
  const scratch = image(5, 6);
  const { image: kept } = pages.intern(scratch);
  scratch.fill(0);
  t.true(kept.page(0).every((b) => b === 5) && kept.page(1).every((b) => b === 6));
  t.is(kept.count, 2);
  t.is(kept.page(2).length, 0, 'past the end: empty, as pread returns');
});

test('a page shared by images is decoded and read once', (t) => {
  const pages = new InternedPages(pageSize);
  const data = encodePage(
    pageSize,
    { kind: PageKind.data, page: 0, seq: 1n, length: 0 },
    encodeValue('v1'),
  );
  const bytes = new Uint8Array(2 * pageSize);
  bytes.set(data);
  const first = pages.intern(bytes).image;
  const second = pages.intern(bytes).image;
  const decoded = first.decode(first.page(0));
  t.is(decoded.state, 'ok');
  t.is(second.decode(second.page(0)), decoded, 'memoized on the shared page');
  const read = first.readData(first.page(0), 0, true);
  t.deepEqual(read, { state: 'value', seq: 1n, value: 'v1' });
  t.is(second.readData(second.page(0), 0, true), read);
  t.not(second.readData(second.page(0), 1, true), read, 'read as another page: read anew');
});
