import test from 'ava';
import { targetShells } from './shells.ts';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { quoteWord, raw, sh } from '../../../src/harness/target/shell.ts';

// Quoting checked against real shells (dash: /bin/sh on Debian; busybox ash: the guest's):
// whatever a value holds, the command receives exactly it, as one argument.

const shells = targetShells;

/** The arguments a command got, as the shell passed them (NUL-separated by printf). */
const argsSeen = (shell: string[], command: string): string[] =>
  execFileSync(shell[0]!, [...shell.slice(1), '-c', command])
    .toString()
    .split('\0')
    .slice(0, -1);

// No NUL: no argv can hold one.
const anyText = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));

for (const shell of shells) {
  test(`${shell.join(' ')}: any value is one argument, received exactly`, (t) => {
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        t.deepEqual(argsSeen(shell, sh`printf '%s\\0' ${a} ${b}`), [a, b]);
      }),
      { numRuns: 150 },
    );
  });
}

test('arrays are one word per element; numbers as they are; raw() is syntax', (t) => {
  t.is(sh`ls ${['a b', 'c']} ${3}`, "ls 'a b' c 3");
  t.is(sh`true ${raw('&&')} echo ${'$(reboot)'}`, "true && echo '$(reboot)'");
  t.deepEqual(argsSeen(['sh'], sh`printf '%s\\0' ${["it's", '']} ${raw('x y')}`), [
    "it's",
    '',
    'x',
    'y',
  ]);
  t.throws(() => sh`sleep ${Number.NaN}`, { instanceOf: TypeError });
});

test('plain words stay readable in logs', (t) => {
  t.is(quoteWord('/dev/mapper/powercut-ab12'), '/dev/mapper/powercut-ab12');
  t.is(quoteWord('a b'), "'a b'");
  t.is(quoteWord(''), "''");
});
