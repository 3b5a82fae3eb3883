/**
 * The response side of HTTP/1.1 for the load generator's client: enough of
 * RFC 9112 for the services under test (status line, headers, a body framed
 * by Content-Length or chunked transfer coding, or no body), incremental, so
 * a response may arrive in any number of pieces.
 */
export interface ParsedResponse {
  status: number;
  /** Header values by lower-case name (the last one, when repeated). */
  headers: Map<string, string>;
  body: Buffer;
  /** The server closes the connection after this response (Connection: close, or HTTP/1.0). */
  close: boolean;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

export class ResponseParser {
  private buffer: Buffer = Buffer.alloc(0);
  private head: { status: number; headers: Map<string, string>; close: boolean } | undefined;
  /** Body framing of the response being read: a byte count, or chunked. */
  private framing: { length: number } | { chunks: Buffer[] } | undefined;

  /** True when part of a response has been read (a connection lost now lost a response, not an idle socket). */
  get midResponse(): boolean {
    return this.buffer.length > 0 || this.head !== undefined;
  }

  /**
   * Takes the next bytes off the socket; returns the responses they complete
   * (several when a server writes them back to back). `headOnly` answers a
   * HEAD request (headers without a body). Throws on bytes that are not HTTP/1.1.
   */
  push(bytes: Buffer, headOnly = false): ParsedResponse[] {
    this.buffer = this.buffer.length === 0 ? bytes : Buffer.concat([this.buffer, bytes]);
    const done: ParsedResponse[] = [];
    for (;;) {
      if (!this.head) {
        const end = this.buffer.indexOf(HEAD_END);
        if (end < 0) return done;
        this.readHead(this.buffer.subarray(0, end).toString('latin1'), headOnly);
        this.buffer = this.buffer.subarray(end + HEAD_END.length);
      }
      const body = this.readBody();
      if (!body) return done;
      done.push({ ...this.head!, body });
      this.head = undefined;
      this.framing = undefined;
    }
  }

  private readHead(text: string, headOnly: boolean): void {
    const lines = text.split('\r\n');
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!statusLine) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]?.slice(0, 80))}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const status = Number(statusLine[2]);
    const connection = headers.get('connection')?.toLowerCase();
    const close = connection === 'close' || (statusLine[1] === '0' && connection !== 'keep-alive');
    this.head = { status, headers, close };
    const noBody = headOnly || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) this.framing = { length: 0 };
    else if (headers.get('transfer-encoding')?.toLowerCase().includes('chunked')) this.framing = { chunks: [] };
    else if (headers.has('content-length')) this.framing = { length: Number(headers.get('content-length')) };
    else throw new Error('a response body framed by the connection closing is not supported');
  }

  /** The body, once all of it is buffered; undefined while more is to come. */
  private readBody(): Buffer | undefined {
    const framing = this.framing!;
    if ('length' in framing) {
      if (this.buffer.length < framing.length) return undefined;
      const body = this.buffer.subarray(0, framing.length);
      this.buffer = this.buffer.subarray(framing.length);
      return body;
    }
    for (;;) {
      const lineEnd = this.buffer.indexOf(CRLF);
      if (lineEnd < 0) return undefined;
      const size = parseInt(this.buffer.subarray(0, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size)) throw new Error('bad chunk size');
      if (size === 0) {
        // The last chunk, then trailer lines (none expected) and the empty line.
        const end = this.buffer.indexOf(HEAD_END, lineEnd);
        if (end < 0) return undefined;
        this.buffer = this.buffer.subarray(end + HEAD_END.length);
        return Buffer.concat(framing.chunks);
      }
      const start = lineEnd + 2;
      if (this.buffer.length < start + size + 2) return undefined;
      framing.chunks.push(this.buffer.subarray(start, start + size));
      this.buffer = this.buffer.subarray(start + size + 2);
    }
  }
}

/** One request as it goes on the wire: the head and the body in one buffer. */
export function encodeRequest(
  host: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
): Buffer {
  const payload = body === undefined ? undefined : Buffer.from(body);
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (payload) head += `content-length: ${payload.length}\r\n`;
  head += '\r\n';
  return payload ? Buffer.concat([Buffer.from(head, 'latin1'), payload]) : Buffer.from(head, 'latin1');
}
