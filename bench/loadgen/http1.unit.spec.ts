import { encodeRequest, ResponseParser } from './http1';

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('load generator HTTP/1.1 response parser', () => {
  it('reads a Content-Length response delivered one byte at a time', () => {
    const wire = 'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';
    const parser = new ResponseParser();
    const seen = [];
    for (const ch of wire) seen.push(...parser.push(bytes(ch)));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.status).toBe(201);
    expect(seen[0]!.headers.get('content-type')).toBe('application/json');
    expect(seen[0]!.body.toString()).toBe('{"ok":true}');
    expect(seen[0]!.close).toBe(false);
    expect(parser.midResponse).toBe(false);
  });

  it('reads responses written back to back in one packet, and a chunked body split mid-chunk', () => {
    const parser = new ResponseParser();
    const first = parser.push(
      bytes(
        'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\ncontent-length: 2\r\n\r\n{}' +
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
      ),
    );
    expect(first.map((r) => [r.status, r.headers.get('retry-after'), r.body.toString()])).toEqual([[503, '2', '{}']]);
    expect(parser.midResponse).toBe(true);
    const second = parser.push(bytes('lo\r\n6\r\n world\r\n0\r\n\r\n'));
    expect(second.map((r) => [r.status, r.body.toString()])).toEqual([[200, 'hello world']]);
    expect(parser.midResponse).toBe(false);
  });

  it('knows bodiless responses and the server closing the connection', () => {
    const parser = new ResponseParser();
    const [noContent, closing] = parser.push(
      bytes('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
    expect(noContent).toMatchObject({ status: 204, close: false });
    expect(noContent!.body.length).toBe(0);
    expect(closing).toMatchObject({ status: 400, close: true });
    expect(new ResponseParser().push(bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'), true)[0]!.body.length).toBe(0);
  });

  it('refuses what is not HTTP/1.x, and bodies framed only by the connection closing', () => {
    expect(() => new ResponseParser().push(bytes('SSH-2.0-OpenSSH\r\n\r\n'))).toThrow('status line');
    expect(() => new ResponseParser().push(bytes('HTTP/1.1 200 OK\r\n\r\n'))).toThrow('not supported');
  });

  it('encodes a request head and body in one buffer, with the body length', () => {
    const wire = encodeRequest('127.0.0.1:3000', 'POST', '/v1/x', { 'idempotency-key': 'k1' }, '{"amount":5,"currency":"EUR"}');
    expect(wire.toString()).toBe(
      'POST /v1/x HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nidempotency-key: k1\r\ncontent-length: 29\r\n\r\n{"amount":5,"currency":"EUR"}',
    );
  });
});
