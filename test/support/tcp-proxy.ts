import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server, for faults that a stopped process cannot give: a server that
 * accepts connections but never answers (`stall`), and connections reset in the middle (`reset`).
 * The harness's own stand-in for toxiproxy.
 */
export class TcpProxy {
  private stalled = false;
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, targetPort, targetHost));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new TcpProxy(server, address.port);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * From now on connections are accepted and requests swallowed, never answered; connections
   * already open stop carrying bytes too. A client only gets out by its own timeout.
   */
  stall(): void {
    this.stalled = true;
    for (const socket of this.open) {
      socket.unpipe();
      socket.pause();
    }
  }

  /**
   * New connections are forwarded again. The connections held while stalled stay silent, as a
   * black-holed connection does: only a client with a timeout of its own gets past them.
   */
  heal(): void {
    this.stalled = false;
  }

  /** Resets every open connection (TCP RST), as a load balancer or a crashing peer would. */
  reset(): void {
    for (const socket of this.open) socket.resetAndDestroy();
    this.open.clear();
  }

  async close(): Promise<void> {
    this.destroyAll();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket, targetPort: number, targetHost: string): void {
    this.track(client);
    if (this.stalled) {
      client.pause(); // accepted, never read, never answered
      return;
    }
    const upstream = connect(targetPort, targetHost);
    this.track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(socket: Socket): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  }

  private destroyAll(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }
}
