import { parseArgs } from './args';

describe('tool arguments', () => {
  it('separates positionals, valued flags and switches', () => {
    const { positionals, flags } = parseArgs(['rebuild', 'wallet', '--from', '2025-06-01T00:00:00Z', '--no-switch', '--to=0:5']);
    expect(positionals).toEqual(['rebuild', 'wallet']);
    expect(flags).toEqual(
      new Map<string, string | true>([
        ['from', '2025-06-01T00:00:00Z'],
        ['no-switch', true],
        ['to', '0:5'],
      ]),
    );
  });
});
