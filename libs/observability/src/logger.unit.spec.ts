import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { redactString, redactValue } from './redact';

/** A logger writing into an array of parsed lines. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('test', 'info', sink), lines, text: () => JSON.stringify(lines) };
}

describe('log redaction', () => {
  it('masks the password of a connection string, keeping the user and host', () => {
    expect(redactString('connect postgres://sluice_relay:hunter2@db:5432/sluice failed')).toBe(
      'connect postgres://sluice_relay:***@db:5432/sluice failed',
    );
  });

  it('removes bearer and basic credentials from strings', () => {
    expect(redactString('Authorization: Bearer eyJhbGciOi.x.y')).toBe('Authorization: Bearer [redacted]');
    expect(redactString('basic dXNlcjpwYXNz')).toBe('basic [redacted]');
  });

  it('redacts secret-named keys and connection strings at any depth, in arrays too', () => {
    const logged = {
      request: { headers: { authorization: 'Bearer abc', 'x-api-key': 'k' } },
      deep: { a: { b: { c: [{ accessToken: 't' }, { url: 'postgres://u:p@h/db' }] } } },
      config: {
        DATABASE_URL: 'postgres://sluice_command_api:pw@127.0.0.1:5432/sluice',
        PSP_WEBHOOK_SECRET: 's',
        dbPassword: 'x',
      },
    };
    expect(redactValue(logged)).toEqual({
      request: { headers: { authorization: '[redacted]', 'x-api-key': '[redacted]' } },
      deep: { a: { b: { c: [{ accessToken: '[redacted]' }, { url: 'postgres://u:***@h/db' }] } } },
      config: {
        DATABASE_URL: 'postgres://sluice_command_api:***@127.0.0.1:5432/sluice',
        PSP_WEBHOOK_SECRET: '[redacted]',
        dbPassword: '[redacted]',
      },
    });
  });

  it('returns an object with nothing to redact as it is, without copying it', () => {
    const clean = { wallet: 'w-1', amounts: [1, 2], nested: { ok: true } };
    expect(redactValue(clean)).toBe(clean);
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { password: 'x' };
    a.self = a;
    expect(redactValue(a)).toEqual({ password: '[redacted]', self: '[circular]' });
  });

  it('logs an error whose message holds a connection string without its password', () => {
    const { logger, lines, text } = capture();
    const cause = new Error('no route to postgres://sluice_owner:topsecret@db:5432/sluice');
    logger.error(
      { err: new Error('connecting to postgres://sluice_relay:hunter2@db:5432/sluice failed', { cause }) },
      'start-up',
    );
    logger.error(new Error('replication to postgresql://u:pw2@db/x ended'));
    expect(text()).not.toMatch(/hunter2|topsecret|pw2/);
    const err = lines[0]!.err as { type: string; message: string; stack: string };
    expect(err.type).toBe('Error');
    expect(err.message).toBe('connecting to postgres://sluice_relay:***@db:5432/sluice failed');
    expect(err.stack).toContain('postgres://sluice_relay:***@db');
    expect(lines[1]!.msg).toBe('replication to postgresql://u:***@db/x ended');
  });

  it('redacts nested errors, messages and child bindings', () => {
    const { logger, lines, text } = capture();
    logger
      .child({ token: 'child-token' })
      .child({ component: 'relay' })
      .warn({ attempts: [{ error: new Error('auth Bearer abc.def') }] }, 'via postgres://a:msgpw@h/d');
    expect(text()).not.toMatch(/child-token|abc\.def|msgpw/);
    expect(text()).toContain('postgres://a:***@h/d');
    expect(lines[0]).toMatchObject({ token: '[redacted]', component: 'relay' });
  });
});
