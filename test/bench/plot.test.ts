import test from 'ava';
import { plotSvg } from '../../bench/plot.ts';

test('the bench plot draws one line per series through every point, scaled into its panel', (t) => {
  const svg = plotSvg(
    [
      {
        title: 'a <title>',
        xLabel: 'writers',
        yLabel: 'ops/s',
        logX: true,
        series: [
          {
            name: 'group',
            points: [
              [1, 100],
              [4, 300],
              [16, 900],
            ],
          },
          {
            name: 'fsync',
            points: [
              [1, 100],
              [4, 110],
              [16, 120],
            ],
          },
        ],
      },
    ],
    'caption',
  );
  t.is(svg.match(/<polyline/g)?.length, 2);
  t.is(svg.match(/<circle/g)?.length, 6);
  t.true(svg.includes('a &lt;title&gt;'), 'text is escaped');
  // The highest point sits highest (smallest y); log2 x spacing puts 4 halfway between 1 and 16.
  const ys = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  t.true(ys[2]![1]! < ys[1]![1]! && ys[1]![1]! < ys[0]![1]!);
  t.is(Math.round((ys[0]![0]! + ys[2]![0]!) / 2), Math.round(ys[1]![0]!));
});
