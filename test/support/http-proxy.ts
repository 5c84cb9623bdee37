import { once } from 'node:events';
import {
  createServer,
  request as forward,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';

/** What the proxy does with one request instead of forwarding it as it is. */
export type HttpFault =
  /** Answers by itself, as a load balancer in trouble would; the producer never sees the request. */
  | { answer: number; headers?: Record<string, string>; body?: string }
  /** Forwards the request, reads the producer's whole answer, then closes the client's connection without it. */
  | { dropResponse: true }
  /** Forwards the answer's head and first `bytes` bytes of body, the rest once `release` resolves. */
  | { holdBodyAfter: number; release: Promise<void> };

/** A request the proxy received, with its body. */
export interface SeenRequest {
  method: string;
  url: string;
  body: string;
}

/**
 * An HTTP proxy in front of the producer for the faults a client must ride out: error answers
 * (503, 429 with Retry-After), lost responses and slow bodies. Each queued fault applies to one
 * request, in arrival order; other requests pass through untouched.
 */
export class HttpProxy {
  /** Every request received, in order. */
  readonly seen: SeenRequest[] = [];
  private readonly faults: HttpFault[] = [];
  private readonly forwardWaiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<HttpProxy> {
    let proxy: HttpProxy | undefined;
    const server = createServer((req, res) => void proxy?.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new HttpProxy(server, address.port, targetPort);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Applies these faults to the next requests, one each. */
  inject(...faults: HttpFault[]): void {
    this.faults.push(...faults);
  }

  /** The requests seen for a method and path (without the query). */
  requests(method: string, path: string): SeenRequest[] {
    return this.seen.filter((seen) => seen.method === method && seen.url.split('?')[0] === path);
  }

  /** Resolves once the proxy has the producer's answer to the next request it forwards. */
  forwarded(): Promise<void> {
    return new Promise((resolve) => this.forwardWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', body: body.toString('utf8') });
    const fault = this.faults.shift();
    if (fault && 'answer' in fault) {
      res.writeHead(fault.answer, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? JSON.stringify({ error: 'proxy', message: `injected ${fault.answer}` }));
      return;
    }
    const upstream = forward({
      host: '127.0.0.1',
      port: this.targetPort,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    // The producer unreachable or gone mid-answer: the client's connection breaks as well.
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    upstream.end(body);
    let answer: IncomingMessage;
    try {
      [answer] = (await once(upstream, 'response')) as [IncomingMessage];
    } catch {
      return; // the error handler above has broken the client's connection
    }
    this.forwardWaiters.shift()?.();
    answer.on('error', () => res.destroy());
    if (fault && 'dropResponse' in fault) {
      answer.resume();
      answer.on('end', () => res.destroy());
      return;
    }
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    if (fault && 'holdBodyAfter' in fault) {
      await this.forwardHeld(answer, res, fault.holdBodyAfter, fault.release);
      return;
    }
    answer.pipe(res);
  }

  private async forwardHeld(
    answer: IncomingMessage,
    res: ServerResponse,
    bytes: number,
    release: Promise<void>,
  ): Promise<void> {
    const held: Buffer[] = [];
    let sent = 0;
    for await (const piece of answer) {
      const buffer = piece as Buffer;
      const now = buffer.subarray(0, Math.max(0, bytes - sent));
      if (now.length > 0) res.write(now);
      sent += now.length;
      if (now.length < buffer.length) held.push(buffer.subarray(now.length));
    }
    await release;
    for (const buffer of held) res.write(buffer);
    res.end();
  }
}
