import { expect } from 'chai';
import {
  HttpStatus,
  UpgradePolicy,
  type UpgradePolicyOptions,
  type UpgradeRequest,
} from '../../src/observables/upgradePolicy.js';

// The policy reads a request's URL and headers only: plain objects stand in for requests here;
// listen.spec.ts and limits.spec.ts send real ones.
const request = (url: string | undefined, headers: UpgradeRequest['headers'] = {}): UpgradeRequest => ({
  url,
  headers,
});

const open: UpgradePolicyOptions = { requireOrigin: false, requireProtocol: false, maxConnections: 10 };

describe('UpgradePolicy', () => {
  describe('isOnPath()', () => {
    it('takes every path when none is set', () => {
      const policy = new UpgradePolicy(open);
      for (const url of ['/', '/a', '/a/b?c=d', undefined]) expect(policy.isOnPath(request(url)), url).to.equal(true);
    });

    it('compares the path alone: a query does not matter, a trailing slash or a prefix does', () => {
      const policy = new UpgradePolicy({ ...open, path: '/chat' });
      expect(policy.isOnPath(request('/chat'))).to.equal(true);
      expect(policy.isOnPath(request('/chat?room=1'))).to.equal(true);
      expect(policy.isOnPath(request('/chat/'))).to.equal(false);
      expect(policy.isOnPath(request('/chatroom'))).to.equal(false);
      expect(policy.isOnPath(request('/'))).to.equal(false);
    });

    it('reads a request without a URL as /', () => {
      expect(new UpgradePolicy({ ...open, path: '/' }).isOnPath(request(undefined))).to.equal(true);
      expect(new UpgradePolicy({ ...open, path: '/a' }).isOnPath(request(undefined))).to.equal(false);
    });
  });

  describe('refusalOf()', () => {
    it('accepts any request by default', () => {
      expect(new UpgradePolicy(open).refusalOf(request('/'), 0, false)).to.equal(undefined);
    });

    it('with origins: accepts those listed, in any case and with the default port, refuses others with 403', () => {
      const policy = new UpgradePolicy({ ...open, origins: ['https://app.example', 'http://localhost:4200'] });
      const from = (origin: string | string[] | undefined): number | undefined =>
        policy.refusalOf(request('/', { origin } as UpgradeRequest['headers']), 0, false);
      expect(from('https://app.example')).to.equal(undefined);
      expect(from('HTTPS://App.Example:443')).to.equal(undefined);
      expect(from('http://localhost:4200')).to.equal(undefined);
      expect(from('http://localhost:4201')).to.equal(HttpStatus.Forbidden);
      expect(from('https://evil.example')).to.equal(HttpStatus.Forbidden);
      expect(from('null')).to.equal(HttpStatus.Forbidden);
      expect(from(['https://app.example']), 'not a string').to.equal(HttpStatus.Forbidden);
      expect(from(undefined), 'no origin, not required').to.equal(undefined);
    });

    it('reads Sec-WebSocket-Origin (protocol version 8) where Origin is missing', () => {
      const policy = new UpgradePolicy({ ...open, origins: ['https://app.example'] });
      const headers = { 'sec-websocket-origin': 'https://evil.example' };
      expect(policy.refusalOf(request('/', headers), 0, false)).to.equal(HttpStatus.Forbidden);
    });

    it('with requireOrigin: refuses a request without one with 403', () => {
      const policy = new UpgradePolicy({ ...open, requireOrigin: true });
      expect(policy.refusalOf(request('/'), 0, false)).to.equal(HttpStatus.Forbidden);
      expect(policy.refusalOf(request('/', { origin: 'https://any.example' }), 0, false)).to.equal(undefined);
    });

    it('with requireProtocol: refuses with 400 a request that offers none of the protocols', () => {
      const policy = new UpgradePolicy({ ...open, protocols: ['chat', 'v2'], requireProtocol: true });
      const offering = (header: string | undefined): number | undefined =>
        policy.refusalOf(request('/', { 'sec-websocket-protocol': header }), 0, false);
      expect(offering('chat')).to.equal(undefined);
      expect(offering('other, v2')).to.equal(undefined);
      expect(offering(' other ,chat ')).to.equal(undefined);
      expect(offering('other')).to.equal(HttpStatus.BadRequest);
      expect(offering('chatty')).to.equal(HttpStatus.BadRequest);
      expect(offering(undefined)).to.equal(HttpStatus.BadRequest);
    });

    it('without requireProtocol: accepts a request that offers none of them (no subprotocol is selected)', () => {
      const policy = new UpgradePolicy({ ...open, protocols: ['chat'] });
      expect(policy.refusalOf(request('/', { 'sec-websocket-protocol': 'other' }), 0, false)).to.equal(undefined);
    });

    it('refuses with 503 at maxConnections and while stopping', () => {
      const policy = new UpgradePolicy({ ...open, maxConnections: 2 });
      expect(policy.refusalOf(request('/'), 1, false)).to.equal(undefined);
      expect(policy.refusalOf(request('/'), 2, false)).to.equal(HttpStatus.ServiceUnavailable);
      expect(policy.refusalOf(request('/'), 0, true)).to.equal(HttpStatus.ServiceUnavailable);
    });

    it('tells a client refused for good so, not to come back later: 403 and 400 before 503', () => {
      const policy = new UpgradePolicy({
        ...open,
        origins: ['https://app.example'],
        protocols: ['chat'],
        requireProtocol: true,
        maxConnections: 1,
      });
      const full = (headers: UpgradeRequest['headers']): number | undefined =>
        policy.refusalOf(request('/', headers), 1, true);
      expect(full({ origin: 'https://evil.example', 'sec-websocket-protocol': 'chat' })).to.equal(HttpStatus.Forbidden);
      expect(full({ origin: 'https://app.example' })).to.equal(HttpStatus.BadRequest);
      expect(full({ origin: 'https://app.example', 'sec-websocket-protocol': 'chat' })).to.equal(
        HttpStatus.ServiceUnavailable,
      );
    });
  });
});
