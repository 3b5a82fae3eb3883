import { ConfigError, env, loadConfig, metricsEnv, metricsPortDiffers, z } from './index';

describe('loadConfig', () => {
  const schema = z
    .object({ PORT: env.port(3000), LIST: env.list('a,b'), ON: env.bool(false), LOW: env.int(1), HIGH: env.int(5) })
    .refine((c) => c.LOW < c.HIGH, { message: 'LOW must be below HIGH' });

  it('applies defaults and coerces strings', () => {
    expect(loadConfig(schema, { PORT: '8080', ON: 'true' })).toEqual({ PORT: 8080, LIST: ['a', 'b'], ON: true, LOW: 1, HIGH: 5 });
  });

  it('reports every problem at once, cross-field rules included', () => {
    expect(() => loadConfig(schema, { PORT: 'x', LOW: '9' })).toThrow(ConfigError);
    try {
      loadConfig(schema, { PORT: '70000', LOW: '9' });
    } catch (err) {
      expect((err as ConfigError).problems.join('\n')).toMatch(/PORT/);
    }
    expect(() => loadConfig(schema, { LOW: '9' })).toThrow(/LOW must be below HIGH/);
  });
});

describe('METRICS_PORT', () => {
  const schema = z.object({ PORT: env.port(3000), ...metricsEnv }).refine(...metricsPortDiffers);

  it('is unset by default: /metrics stays on PORT', () => {
    expect(loadConfig(schema, {}).METRICS_PORT).toBeUndefined();
  });

  it('is a port of its own when set', () => {
    expect(loadConfig(schema, { METRICS_PORT: '9464' })).toEqual({ PORT: 3000, METRICS_PORT: 9464 });
  });

  it('refuses the API port itself', () => {
    expect(() => loadConfig(schema, { PORT: '9464', METRICS_PORT: '9464' })).toThrow(
      /METRICS_PORT: METRICS_PORT must differ from PORT/,
    );
  });
});
