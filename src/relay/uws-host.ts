/**
 * An HTTP + WebSocket host on uWebSockets.js (`--transport uws`): the same relay decisions
 * (Relay.decideUpgrade / openConnection / handleHttp), on a C++ socket layer that costs about
 * 1 KB per idle connection instead of ~7 KB for node:http + ws, and less CPU per write.
 * Optional: the package is an optional dependency; `--transport ws` (the default) needs nothing.
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type * as UwsModule from '@trufflesuite/uws-js-unofficial';
import type { RelayHooks, RelayHost, UpgradeDecision } from './host.js';
import { closeReason } from './transport.js';
import type { HttpRequest, HttpResponse, PeerConnection, PeerHandlers } from './transport.js';

type Uws = typeof UwsModule;
type UwsSocket = UwsModule.WebSocket<UserData>;

interface UserData {
  decision: Exclude<UpgradeDecision, { kind: 'unavailable' }>;
  remote: string;
  conn?: UwsConnection;
}

const text = (ab: ArrayBuffer) => Buffer.from(ab).toString();

class UwsConnection implements PeerConnection {
  open = true;
  handlers: PeerHandlers | undefined;
  readonly acceptsFramed = true;
  /** One writeFramed() is one WebSocket message: frames must not be concatenated. */
  readonly concatenable = false;
  constructor(
    private readonly ws: UwsSocket,
    readonly remoteAddress: string,
  ) {}
  get isOpen(): boolean {
    return this.open;
  }
  get bufferedAmount(): number {
    return this.open ? this.ws.getBufferedAmount() : 0;
  }
  writeFramed(bytes: Uint8Array): void {
    this.send(bytes);
  }
  send(bytes: Uint8Array): void {
    if (this.open) this.ws.send(bytes, true);
  }
  sendText(t: string): void {
    if (this.open) this.ws.send(t, false);
  }
  batch(fn: () => void): void {
    if (this.open) this.ws.cork(fn);
    else fn();
  }
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.ws.end(code, closeReason(reason));
  }
  terminate(): void {
    if (this.open) this.ws.close();
  }
  ping(): void {
    if (this.open) this.ws.ping();
  }
  // This uWS build cannot pause a WebSocket's reads (newer ones can): frames past the rate limit
  // are still handled — nothing is dropped — but the sender is not slowed by TCP.
  pause(): void {
    if (this.open) (this.ws as unknown as { pause?: () => void }).pause?.();
  }
  resume(): void {
    if (this.open) (this.ws as unknown as { resume?: () => void }).resume?.();
  }
  setHandlers(h: PeerHandlers): void {
    this.handlers = h;
  }
}

/** Loads uWebSockets.js, or explains why it cannot be used here. */
export async function loadUws(): Promise<Uws> {
  try {
    return (await import('@trufflesuite/uws-js-unofficial')).default as unknown as Uws;
  } catch (e) {
    throw new Error(`--transport uws needs the optional package @trufflesuite/uws-js-unofficial (${(e as Error).message}); use --transport ws`);
  }
}

/** A uWS callback that throws would end the process: contain it and report it to the relay. */
function guard<A extends unknown[]>(hooks: RelayHooks, where: string, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (e) {
      hooks.internalError(e, where);
    }
  };
}

export async function startUwsHost(hooks: RelayHooks, host: string, port: number, maxPayloadLength: number): Promise<RelayHost> {
  const uWS = await loadUws();
  const app = uWS.App();
  app.ws<UserData>('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength,
    // The relay bounds every queue itself (conflation, skipping, 4413); uWS must never drop.
    maxBackpressure: 1024 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: 0,
    sendPingsAutomatically: false,
    upgrade: guard(hooks, 'upgrade', (res, req, context) => {
      const query = req.getQuery();
      const url = req.getUrl() + (query ? `?${query}` : '');
      const headers: IncomingHttpHeaders = {};
      req.forEach((k, v) => (headers[k] = v));
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const remote = normaliseAddress(text(res.getRemoteAddressAsText()));
      let aborted = false;
      res.onAborted(() => (aborted = true));
      void hooks
        .decideUpgrade(url, headers, remote)
        .then((decision) => {
          if (aborted) return;
          res.cork(() => {
            if (decision.kind === 'unavailable') res.writeStatus('503 Service Unavailable').end();
            else res.upgrade<UserData>({ decision, remote }, key, protocol, extensions, context);
          });
        })
        .catch((e: unknown) => hooks.internalError(e, 'upgrade'));
    }),
    open: guard(hooks, 'open', (ws: UwsSocket) => {
      const ud = ws.getUserData();
      const conn = new UwsConnection(ws, ud.remote);
      ud.conn = conn;
      hooks.openConnection(conn, ud.decision);
    }),
    // The ArrayBuffer is only valid during the call: copy it.
    message: guard(hooks, 'message', (ws: UwsSocket, msg: ArrayBuffer, isBinary: boolean) => ws.getUserData().conn?.handlers?.message(new Uint8Array(msg.slice(0)), isBinary)),
    drain: guard(hooks, 'drain', (ws: UwsSocket) => ws.getUserData().conn?.handlers?.drain()),
    pong: guard(hooks, 'pong', (ws: UwsSocket) => ws.getUserData().conn?.handlers?.pong()),
    close: guard(hooks, 'close', (ws: UwsSocket, code: number, message: ArrayBuffer) => {
      const conn = ws.getUserData().conn;
      if (!conn) return;
      conn.open = false;
      conn.handlers?.close(code, text(message));
    }),
  });
  app.any(
    '/*',
    guard(hooks, 'http', (res: UwsModule.HttpResponse, req: UwsModule.HttpRequest) => {
      const query = req.getQuery();
      const headers: IncomingHttpHeaders = {};
      req.forEach((k, v) => (headers[k] = v));
      const request: HttpRequest = { method: req.getMethod().toUpperCase(), url: req.getUrl() + (query ? `?${query}` : ''), headers };
      let aborted = false;
      res.onAborted(() => (aborted = true));
      let status = 200;
      let outHeaders: Record<string, string | number> = {};
      const response: HttpResponse & { headersSent: boolean } = {
        headersSent: false,
        writeHead(s: number, h?: Record<string, string | number>) {
          status = s;
          outHeaders = { ...outHeaders, ...(h ?? {}) };
          response.headersSent = true;
          return response;
        },
        end(body?: string | Uint8Array) {
          if (aborted) return;
          res.cork(() => {
            res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`);
            for (const [k, v] of Object.entries(outHeaders)) res.writeHeader(k, String(v));
            res.end(body ?? '');
          });
        },
      };
      void Promise.resolve(hooks.handleHttp(request, response)).catch((e: unknown) => hooks.internalError(e, 'http'));
    }),
  );
  // A listen socket closed a moment ago (a restart on the same port) is released by uWS on its
  // next loop iteration: retry briefly before giving up.
  let token: unknown;
  for (let attempt = 0; ; attempt++) {
    token = await new Promise<unknown>((resolve) => app.listen(host, port, (t) => resolve(t)));
    if (token) break;
    if (attempt >= 20 || port === 0) throw new Error(`cannot listen on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port: uWS.us_socket_local_port(token as never),
    // Frames are whole WebSocket messages on uWS: it frames them itself.
    frame: (payload: Uint8Array) => payload,
    async close() {
      uWS.us_listen_socket_close(token as never);
    },
  };
}

// uWS reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d
function normaliseAddress(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a.replace(/^0000:0000:0000:0000:0000:ffff:/, '');
}
