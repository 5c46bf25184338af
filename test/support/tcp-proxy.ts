/**
 * A tiny TCP proxy for tests: listens on 127.0.0.1 and forwards every connection to a target
 * (the relay). A test can drop all current connections, stall both directions and resume, or
 * run a periodic drop mode (connections are cut for `dropMs` of every `periodMs`: open ones are
 * destroyed and new ones refused while the window lasts).
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  private dropping = false;
  private flapTimer: NodeJS.Timeout | undefined;
  private flapEnd: NodeJS.Timeout | undefined;
  /** Connections accepted so far (including refused ones during a drop window). */
  connections = 0;
  /** Connections cut by drop() or the periodic mode. */
  dropped = 0;

  private constructor(
    private readonly server: Server,
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** Starts a proxy to `target` (`ws://host:port`, `http://…` or `host:port`). */
  static async start(target: string): Promise<TcpProxy> {
    const u = new URL(target.includes('://') ? target : `tcp://${target}`);
    const server = createServer();
    const proxy = new TcpProxy(server, u.hostname, Number(u.port));
    server.on('connection', (client: Socket) => proxy.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** ws://127.0.0.1:<proxy port> */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections currently open through the proxy. */
  get open(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    this.connections++;
    client.on('error', () => {});
    if (this.dropping) {
      this.dropped++;
      client.destroy();
      return;
    }
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    upstream.on('error', () => {});
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.stalled) this.pausePair(pair);
    const end = () => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.once('close', end);
    upstream.once('close', end);
  }

  private pausePair(p: Pair): void {
    // Unpiping stops the flow both ways; pausing stops reading, so TCP windows fill up.
    p.client.unpipe(p.upstream);
    p.upstream.unpipe(p.client);
    p.client.pause();
    p.upstream.pause();
  }

  /** Destroys every current connection (both sides see a reset / abrupt close). */
  drop(): void {
    for (const p of [...this.pairs]) {
      this.dropped++;
      this.pairs.delete(p);
      p.client.destroy();
      p.upstream.destroy();
    }
  }

  /** Stops forwarding in both directions (connections stay open; bytes pile up in the kernel). */
  stall(): void {
    this.stalled = true;
    for (const p of this.pairs) this.pausePair(p);
  }

  /** Undoes stall(). */
  resume(): void {
    this.stalled = false;
    for (const p of this.pairs) {
      p.client.pipe(p.upstream);
      p.upstream.pipe(p.client);
      p.client.resume();
      p.upstream.resume();
    }
  }

  /**
   * Periodic drop mode: at the start of every `periodMs`, drops all connections and refuses new
   * ones for `dropMs` (default: 150 ms of every 300 ms). Call stopFlapping() to end it.
   */
  startFlapping(periodMs = 300, dropMs = 150): void {
    this.stopFlapping();
    const cycle = () => {
      this.dropping = true;
      this.drop();
      this.flapEnd = setTimeout(() => (this.dropping = false), dropMs);
    };
    cycle();
    this.flapTimer = setInterval(cycle, periodMs);
  }

  stopFlapping(): void {
    if (this.flapTimer) clearInterval(this.flapTimer);
    if (this.flapEnd) clearTimeout(this.flapEnd);
    this.flapTimer = undefined;
    this.flapEnd = undefined;
    this.dropping = false;
  }

  /** Stops listening and drops everything. */
  async close(): Promise<void> {
    this.stopFlapping();
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
