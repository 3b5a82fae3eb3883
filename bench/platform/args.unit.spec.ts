import { parseArgs } from './args';

describe('platform bench arguments', () => {
  it('has defaults for every option', () => {
    const a = parseArgs([]);
    expect(a).toMatchObject({ stepSeconds: 20, wallets: 200, replicas: 1, rounds: 1, references: true, baseline: undefined });
    expect(a.rates[0]).toBe(100);
  });

  it('reads rates, step length, replicas, a baseline and rounds', () => {
    expect(
      parseArgs([
        '--rates',
        '50,100,200',
        '--step-seconds',
        '10',
        '--replicas',
        '2',
        '--baseline',
        '../old',
        '--rounds',
        '3',
        '--no-references',
      ]),
    ).toMatchObject({ rates: [50, 100, 200], stepSeconds: 10, replicas: 2, baseline: '../old', rounds: 3, references: false });
  });

  it('refuses rates that do not rise, wallets outside 50..500, unknown options and missing values', () => {
    expect(() => parseArgs(['--rates', '100,50'])).toThrow('rise');
    expect(() => parseArgs(['--rates', '100,x'])).toThrow(RangeError);
    expect(() => parseArgs(['--wallets', '20'])).toThrow('50..500');
    expect(() => parseArgs(['--replicas', '0'])).toThrow(RangeError);
    expect(() => parseArgs(['--speed', '1'])).toThrow('unknown option --speed');
    expect(() => parseArgs(['--step-seconds'])).toThrow(RangeError);
  });

  it('reads variants: this build again with settings changed', () => {
    const a = parseArgs(['--variant', 'quiet:HTTP_ACCESS_LOG=false,TRACING_EXPORTER=none', '--variant', 'url:X_URL=a=b']);
    expect(a.variants).toEqual([
      { name: 'quiet', env: { HTTP_ACCESS_LOG: 'false', TRACING_EXPORTER: 'none' } },
      { name: 'url', env: { X_URL: 'a=b' } },
    ]);
    expect(() => parseArgs(['--variant', 'nosettings'])).toThrow('name:SETTING=value');
    expect(() => parseArgs(['--variant', 'bad:lower=1'])).toThrow('is not SETTING=value');
    expect(() => parseArgs(['--variant', 'a:X=1', '--variant', 'a:Y=2'])).toThrow('taken');
    expect(() => parseArgs(['--variant', 'baseline:X=1'])).toThrow('taken');
  });
});
