import { niceCeil, renderChart } from './svg';

describe('SVG chart', () => {
  it('ends an axis at 1, 2 or 5 times a power of ten', () => {
    expect([0, 0.7, 3, 42, 250, 1_001].map(niceCeil)).toEqual([1, 1, 5, 50, 500, 2_000]);
  });

  it('draws each series as a path with a point per finite value, a legend entry and the target marks', () => {
    const svg = renderChart('t <1>', 'offered/s', [
      {
        yLabel: 'ms',
        series: [
          {
            name: 'API p99',
            points: [
              { x: 100, y: 10 },
              { x: 200, y: NaN },
              { x: 400, y: 40 },
            ],
          },
          { name: 'old', points: [{ x: 100, y: 20 }], dashed: true },
        ],
        marks: [{ y: 50, label: 'target' }],
      },
      { yLabel: 'CPU', series: [] },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('t &lt;1&gt;');
    expect(svg.match(/<circle /g)).toHaveLength(3);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('>target</text>');
    expect(svg).toContain('>API p99</text>');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });
});
