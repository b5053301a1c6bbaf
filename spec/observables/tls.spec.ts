import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { firstValueFrom, Subscription } from 'rxjs';
import { connect, type ConnectOptions } from '../../src/observables/connect.js';
import { listen, type ListenOptions } from '../../src/observables/listen.js';
import type { PeerServer } from '../../src/observables/PeerServer.js';
import { WriteMode } from '../../src/peer/constants.js';
import type { ConnectionStatus } from '../../src/reconnect/Connection.js';
import { reconnecting } from '../../src/reconnect/reconnecting.js';
import { WebSocketCloseError } from '../../src/errors/WebSocketCloseError.js';
import { WebSocketPeerError } from '../../src/errors/WebSocketPeerError.js';
import {
  collect,
  delay,
  internalsOf,
  needsTool,
  openClient,
  startServer,
  stopAll,
  takeValues,
  type TestServer,
} from '../helpers.js';

/**
 * Certificates made at test time, in a fresh temporary directory removed after the suite: no
 * private key is ever committed. One CA signs a certificate for localhost/127.0.0.1 and one for
 * another host; a self-signed certificate and an encrypted key stand beside them.
 */
interface TestPki {
  dir: string;
  ca: string;
  key: string;
  cert: string;
  otherKey: string;
  otherCert: string;
  selfKey: string;
  selfCert: string;
  encryptedKey: string;
  encryptedCert: string;
  passphrase: string;
}

/** EC P-256 keys: quick to make, unlike RSA ones. */
const EC = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1';
const LEAF_EXTENSIONS = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n';

function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'rx-websocket-peer-tls-'));
  // Arguments are split on spaces: none of them has one.
  const openssl = (command: string): void => {
    execFileSync('/usr/bin/openssl', command.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  const passphrase = 'correct-horse';

  openssl(
    `req -x509 ${EC} -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=rx-websocket-peer-test-CA ` +
      '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign',
  );
  /** A certificate that the CA signs, for `subjectAltName`. */
  const signed = (name: string, subjectAltName: string, key = `${EC} -nodes -keyout ${name}.key`): void => {
    openssl(`req -new ${key} -out ${name}.csr -subj /CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), `${LEAF_EXTENSIONS}subjectAltName=${subjectAltName}\n`);
    const serial = `0x${Math.floor(Math.random() * 2 ** 48).toString(16)}`;
    openssl(
      `x509 -req -in ${name}.csr -CA ca.crt -CAkey ca.key -set_serial ${serial} -days 2 ` +
        `-extfile ${name}.ext -out ${name}.crt`,
    );
  };
  signed('localhost', 'DNS:localhost,IP:127.0.0.1');
  signed('other.example', 'DNS:other.example');
  openssl(
    `genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -aes-256-cbc -pass pass:${passphrase} -out encrypted.key`,
  );
  signed('encrypted', 'DNS:localhost,IP:127.0.0.1', `-key encrypted.key -passin pass:${passphrase}`);
  openssl(
    `req -x509 ${EC} -nodes -keyout self.key -out self.crt -days 2 -subj /CN=localhost ` +
      '-addext subjectAltName=DNS:localhost,IP:127.0.0.1',
  );
  return {
    dir,
    ca: read('ca.crt'),
    key: read('localhost.key'),
    cert: read('localhost.crt'),
    otherKey: read('other.example.key'),
    otherCert: read('other.example.crt'),
    selfKey: read('self.key'),
    selfCert: read('self.crt'),
    encryptedKey: read('encrypted.key'),
    encryptedCert: read('encrypted.crt'),
    passphrase,
  };
}

/** How `connect(url, options)` ended before it opened. */
function failure(url: string, options: ConnectOptions = {}): Promise<WebSocketPeerError> {
  return new Promise((resolve, reject) => {
    connect(url, options).subscribe({
      next: () => reject(new Error('it opened')),
      error: resolve,
      complete: () => reject(new Error('it completed')),
    });
  });
}

/** Rejects with a message saying what did not happen in time. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const text = (packet: { data: unknown } | undefined): unknown => packet?.data;

describe('TLS (wss:)', () => {
  let pki: TestPki;
  const cleanups: Array<() => void | Promise<void>> = [];

  before(function () {
    this.timeout(20_000);
    needsTool('openssl');
    pki = makePki();
  });
  after(() => {
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    stopAll();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A `listen()` server with TLS on 127.0.0.1, and its wss: URL. */
  async function secureServer(options: ListenOptions = {}): Promise<TestServer> {
    const started = await startServer({ key: pki.key, cert: pki.cert, ...options });
    return { ...started, url: `wss://127.0.0.1:${started.server.port}` };
  }

  describe('connect() to a wss: server', () => {
    it('opens when given the CA, over TLS; text, binary and close codes go both ways', async () => {
      const { server, url, nextPeer } = await secureServer();
      expect(server.secure).to.equal(true);
      const remoteOpened = nextPeer();
      const client = await openClient(url, { ca: pki.ca });
      const remote = await remoteOpened;
      const socket = internalsOf(client.peer).socket as TLSSocket;
      expect(socket.encrypted).to.equal(true);
      expect(socket.authorized).to.equal(true);
      expect(client.peer.handshake.url).to.equal(`${url}/`);

      client.peer.sink.next('héllo');
      client.peer.sink.next({ isString: false, data: new Uint8Array([0, 1, 254, 255]) });
      const [first, second] = await takeValues(remote.packets$, 2);
      expect(first).to.deep.equal({ isString: true, data: 'héllo' });
      expect(second?.isString).to.equal(false);
      expect(Array.from(second?.data as Uint8Array)).to.deep.equal([0, 1, 254, 255]);

      remote.setWriteMode(WriteMode.Binary);
      remote.sink.next(new Uint8Array([9, 8, 7]));
      remote.sink.next({ isString: true, data: 'back' });
      const [third, fourth] = await takeValues(client.peer.packets$, 2);
      expect(third?.isString).to.equal(false);
      expect(Array.from(third?.data as Uint8Array)).to.deep.equal([9, 8, 7]);
      expect(fourth).to.deep.equal({ isString: true, data: 'back' });

      client.peer.close(4001, 'client done');
      expect((await takeValues(remote.closed$, 1))[0]).to.deep.equal({
        code: 4001,
        reason: 'client done',
        wasClean: true,
      });
      expect((await takeValues(client.peer.closed$, 1))[0]).to.deep.equal({
        code: 4001,
        reason: 'client done',
        wasClean: true,
      });
      expect(await client.ended)
        .to.be.instanceOf(WebSocketCloseError)
        .and.include({ code: 4001, wasClean: true });
    });

    it('gives the close code of a server that closes', async () => {
      const { url, nextPeer } = await secureServer();
      const remoteOpened = nextPeer();
      const client = await openClient(url, { ca: pki.ca });
      (await remoteOpened).close(4002, 'server done');
      expect((await takeValues(client.peer.closed$, 1))[0]).to.deep.equal({
        code: 4002,
        reason: 'server done',
        wasClean: true,
      });
      expect(await client.ended)
        .to.be.instanceOf(WebSocketCloseError)
        .and.include({ code: 4002, wasClean: true });
    });

    it('reconnecting() gives up at once on a certificate that does not verify, and retries a refused TCP connection', async () => {
      const leaf = await secureServer();
      const self = await secureServer({ key: pki.selfKey, cert: pki.selfCert });
      const other = await secureServer({ key: pki.otherKey, cert: pki.otherCert });
      const cases = [
        [leaf.url, {}, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
        [self.url, {}, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
        [other.url, { ca: pki.ca }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
      ] as const;
      for (const [url, options, tlsCode] of cases) {
        const connection = reconnecting(url, { ...options, initialDelay: 5, maxDelay: 5, maxAttempts: 5 });
        const statuses = collect(connection.status$);
        const { error } = await collect(connection.packets$).done;
        expect(
          statuses.values.map((s) => s.state),
          tlsCode,
        ).to.deep.equal(['idle', 'connecting', 'closed']);
        const last = statuses.values.at(-1) as Extract<ConnectionStatus, { state: 'closed' }>;
        expect(last.reason).to.equal(error);
        expect(error).to.be.instanceOf(WebSocketPeerError).and.include({ code: 'ERR_CONNECT_FAILED' });
        expect((error as Error).cause).to.have.property('code', tlsCode);
      }
      // A wss: URL to a port that refuses is not a certificate failure: it is retried.
      const port = leaf.server.port;
      leaf.stop();
      await delay(20);
      const refused = reconnecting(`wss://127.0.0.1:${port}`, { initialDelay: 5, maxDelay: 5, maxAttempts: 2 });
      const statuses = collect(refused.status$);
      await collect(refused.packets$).done;
      expect(statuses.values.filter((s) => s.state === 'reconnecting')).to.have.length(2);
    });

    it('verifies by default: without the CA, ERR_CONNECT_FAILED with the TLS code as cause, and no peer', async () => {
      const { server, url } = await secureServer();
      const peers = collect(server.peers$);
      const error = await failure(url);
      expect(error).to.be.instanceOf(WebSocketPeerError);
      expect(error.code).to.equal('ERR_CONNECT_FAILED');
      expect(error.cause).to.have.property('code', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      await delay(20);
      expect(peers.values).to.have.length(0);
    });

    it('refuses a self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT), and trusts it given as its own CA', async () => {
      const { url } = await secureServer({ key: pki.selfKey, cert: pki.selfCert });
      const error = await failure(url);
      expect(error.code).to.equal('ERR_CONNECT_FAILED');
      expect(error.cause).to.have.property('code', 'DEPTH_ZERO_SELF_SIGNED_CERT');
      const client = await openClient(url, { ca: pki.selfCert });
      expect(client.peer.isConnectedToHost()).to.equal(true);
    });

    it('keeps verifying when NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
      const { url } = await secureServer();
      const before = process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
      process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';
      try {
        const error = await failure(url);
        expect(error.code).to.equal('ERR_CONNECT_FAILED');
        expect(error.cause).to.have.property('code', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      } finally {
        if (before === undefined) delete process.env['NODE_TLS_REJECT_UNAUTHORIZED'];
        else process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = before;
      }
    });

    it('refuses a certificate for another host (ERR_TLS_CERT_ALTNAME_INVALID), on IP and name URLs', async () => {
      const { server, url } = await secureServer({ key: pki.otherKey, cert: pki.otherCert });
      const byIp = await failure(url, { ca: pki.ca });
      expect(byIp.code).to.equal('ERR_CONNECT_FAILED');
      expect(byIp.cause).to.have.property('code', 'ERR_TLS_CERT_ALTNAME_INVALID');
      const byName = await failure(`wss://localhost:${server.port}`, { ca: pki.ca });
      expect(byName.code).to.equal('ERR_CONNECT_FAILED');
      expect(byName.cause).to.have.property('code', 'ERR_TLS_CERT_ALTNAME_INVALID');
    });

    it("checks the certificate against 'servername' when given", async () => {
      const { url, nextPeer } = await secureServer({ key: pki.otherKey, cert: pki.otherCert });
      const remoteOpened = nextPeer();
      const client = await openClient(url, { ca: pki.ca, servername: 'other.example' });
      expect((internalsOf(client.peer).socket as TLSSocket).authorized).to.equal(true);
      expect((await remoteOpened).isConnectedToHost()).to.equal(true);
      const error = await failure(url, { ca: pki.ca, servername: 'localhost' });
      expect(error.cause).to.have.property('code', 'ERR_TLS_CERT_ALTNAME_INVALID');
    });

    it("takes 'ca' as a Buffer, or an array of several", async () => {
      const { url } = await secureServer();
      const asBuffer = await openClient(url, { ca: Buffer.from(pki.ca) });
      expect(asBuffer.peer.isConnectedToHost()).to.equal(true);
      const asArray = await openClient(url, { ca: [pki.selfCert, Buffer.from(pki.ca)] });
      expect(asArray.peer.isConnectedToHost()).to.equal(true);
    });

    it('fails with ERR_CONNECT_FAILED for wss: to a plain ws: server, and ws: to a wss: one', async () => {
      const plain = await startServer();
      const toPlain = await failure(`wss://127.0.0.1:${plain.server.port}`, { ca: pki.ca, handshakeTimeout: 3000 });
      expect(toPlain.code).to.equal('ERR_CONNECT_FAILED');
      expect(toPlain.cause).to.be.instanceOf(Error);
      const { server } = await secureServer();
      const toSecure = await failure(`ws://127.0.0.1:${server.port}`, { handshakeTimeout: 3000 });
      expect(toSecure.code).to.equal('ERR_CONNECT_FAILED');
    });

    it("throws ERR_INVALID_OPTION for 'ca'/'servername' on a ws: URL, or that are not what they should be", () => {
      const cases: Array<[string, Record<string, unknown>]> = [
        ['ws://127.0.0.1:1', { ca: 'whatever' }],
        ['ws://127.0.0.1:1', { servername: 'localhost' }],
        ['wss://127.0.0.1:1', { ca: 42 }],
        ['wss://127.0.0.1:1', { ca: [] }],
        ['wss://127.0.0.1:1', { ca: './ca.pem' }], // a file name, not its content
        ['wss://127.0.0.1:1', { ca: '-----BEGIN CERTIFICATE-----\nnotbase64\n-----END CERTIFICATE-----\n' }],
        ['wss://127.0.0.1:1', { servername: '127.0.0.1' }],
        ['wss://127.0.0.1:1', { servername: 'bad name' }],
        ['wss://127.0.0.1:1', { servername: '' }],
      ];
      for (const [url, options] of cases) {
        expect(() => connect(url, options), `${url} ${JSON.stringify(options)}`)
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
      expect(() => connect('wss://127.0.0.1:1', { ca: pki.ca, servername: 'localhost' })).to.not.throw();
    });
  });

  describe('listen() with key and cert', () => {
    it('serves wss: on its own https server, tells it in PeerServer.secure, and a plain one does not', async () => {
      const { server, url, nextPeer } = await secureServer();
      expect(server.secure).to.equal(true);
      expect(server.host).to.equal('127.0.0.1');
      const remoteOpened = nextPeer();
      const client = await openClient(url, { ca: pki.ca });
      const remote = await remoteOpened;
      remote.sink.next('over tls');
      expect(text((await takeValues(client.peer.packets$, 1))[0])).to.equal('over tls');
      const plain = await startServer();
      expect(plain.server.secure).to.equal(false);
    });

    it('takes an encrypted key with its passphrase', async () => {
      const { url } = await secureServer({
        key: pki.encryptedKey,
        cert: pki.encryptedCert,
        passphrase: pki.passphrase,
      });
      const client = await openClient(url, { ca: pki.ca });
      expect(client.peer.isConnectedToHost()).to.equal(true);
    });

    it('attached to an https.Server of yours: wss: works and PeerServer.secure is true', async () => {
      const https: HttpsServer = createHttpsServer({ key: pki.key, cert: pki.cert }, (_request, response) => {
        response.end('own handler');
      });
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            https.closeAllConnections();
            https.close(() => resolve());
          }),
      );
      await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
      const port = (https.address() as { port: number }).port;
      const subscription = new Subscription();
      cleanups.push(() => subscription.unsubscribe());
      const server = await new Promise<PeerServer>((resolve, reject) => {
        subscription.add(listen({ server: https }).subscribe({ next: resolve, error: reject }));
      });
      expect(server.secure).to.equal(true);
      expect(server.limits.handshakeTimeout).to.equal(undefined);
      const remoteOpened = firstValueFrom(server.peers$);
      const client = await openClient(`wss://localhost:${port}`, { ca: pki.ca });
      client.peer.sink.next('hi');
      expect(text((await takeValues((await remoteOpened).packets$, 1))[0])).to.equal('hi');
    });

    it('throws ERR_INVALID_OPTION synchronously for TLS options that cannot work', () => {
      const https = createHttpsServer();
      const cases: Array<Record<string, unknown>> = [
        { server: https, key: pki.key, cert: pki.cert },
        { server: https, passphrase: 'x' },
        { key: pki.key }, // no cert
        { cert: pki.cert }, // no key
        { key: pki.key, cert: pki.otherCert }, // not its certificate
        { key: pki.encryptedKey, cert: pki.encryptedCert }, // no passphrase
        { key: pki.encryptedKey, cert: pki.encryptedCert, passphrase: 'wrong' },
        { key: pki.key, cert: pki.cert, passphrase: 7 },
        { key: 'not a key', cert: pki.cert },
        { key: 42, cert: pki.cert },
        { passphrase: 'no key' },
      ];
      for (const options of cases) {
        const label = Object.entries(options)
          .map(([name, value]) => `${name}: ${typeof value}`)
          .join(', ');
        expect(() => listen(options), label)
          .to.throw(TypeError)
          .with.property('code', 'ERR_INVALID_OPTION');
      }
      const mismatch = ((): unknown => {
        try {
          listen({ key: pki.key, cert: pki.otherCert });
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(mismatch).to.have.nested.property('cause.code', 'ERR_OSSL_X509_KEY_VALUES_MISMATCH');
    });

    describe('handshakeTimeout, with TLS in it', () => {
      /** Resolves with the ms from TCP connect to the server closing the socket. */
      function closedAfter(socket: Socket, connectedAt: () => number): Promise<number> {
        return new Promise((resolve) => socket.once('close', () => resolve(Date.now() - connectedAt())));
      }

      it('drops a TCP client that never starts TLS, and one that never sends its upgrade request', async () => {
        const { server, url, nextPeer } = await secureServer({ handshakeTimeout: 200 });
        let silentAt = 0;
        const silent = tcpConnect(server.port, '127.0.0.1', () => (silentAt = Date.now()));
        silent.on('error', () => {});
        cleanups.push(() => void silent.destroy());
        let tlsOnlyAt = 0;
        let tlsDone = false;
        const tlsOnly = tlsConnect({ port: server.port, host: '127.0.0.1', ca: pki.ca }, () => (tlsDone = true));
        tlsOnly.once('connect', () => (tlsOnlyAt = Date.now())); // TCP connected, before TLS
        tlsOnly.on('error', () => {});
        cleanups.push(() => void tlsOnly.destroy());
        const silentClosed = closedAfter(silent, () => silentAt);
        const tlsOnlyClosed = closedAfter(tlsOnly, () => tlsOnlyAt);

        // Meanwhile a real client opens, and outlives the timeout.
        const remoteOpened = nextPeer();
        const client = await openClient(url, { ca: pki.ca });
        const remote = await remoteOpened;

        const both = Promise.all([silentClosed, tlsOnlyClosed]);
        const [silentMs, tlsOnlyMs] = await within(3000, 'both sockets to be dropped', both);
        expect(silentMs).to.be.within(150, 1500);
        expect(tlsOnlyMs).to.be.within(150, 1500);
        expect(tlsDone).to.equal(true); // its TLS handshake did finish: the HTTP part timed out
        await delay(100);
        expect(client.peer.isConnectedToHost()).to.equal(true);
        client.peer.sink.next('still here');
        expect(text((await takeValues(remote.packets$, 1))[0])).to.equal('still here');
      });
    });
  });
});
