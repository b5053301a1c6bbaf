import { expect } from 'chai';
import { checkOptionKeys, nearestKeys, optionKeys, unknownOption } from '../../src/internal/optionKeys.js';
import { thrown } from '../helpers.js';

const CONNECT = ['protocols', 'headers', 'handshakeTimeout', 'heartbeatInterval', 'maxPayload', 'ca'];
const LISTEN = ['port', 'host', 'path', 'server', 'protocols', 'origins'];
const RECONNECT = ['initialDelay', 'maxDelay', 'maxAttempts', 'jitter'];

describe('option keys', () => {
  describe('nearestKeys()', () => {
    it('finds a key one or two edits away, a transposition counting as one', () => {
      expect(nearestKeys('heartbeatIntervall', CONNECT)).to.deep.equal(['heartbeatInterval']);
      expect(nearestKeys('hedaers', CONNECT)).to.deep.equal(['headers']);
      expect(nearestKeys('prot', LISTEN)).to.deep.equal(['port']);
      expect(nearestKeys('maxPaylod', CONNECT)).to.deep.equal(['maxPayload']);
    });

    it('ignores case, and takes a known key that begins or ends with the given one', () => {
      expect(nearestKeys('MAXPAYLOAD', CONNECT)).to.deep.equal(['maxPayload']);
      expect(nearestKeys('protocol', CONNECT)).to.deep.equal(['protocols']);
      expect(nearestKeys('timeout', CONNECT)).to.deep.equal(['handshakeTimeout']);
      expect(nearestKeys('portNumber', LISTEN)).to.deep.equal(['port']);
    });

    it('gives every key equally near, and none when nothing is near', () => {
      expect(nearestKeys('delay', RECONNECT)).to.deep.equal(['initialDelay', 'maxDelay']);
      expect(nearestKeys('post', LISTEN)).to.deep.equal(['port', 'host']);
      expect(nearestKeys('banana', CONNECT)).to.deep.equal([]);
      expect(nearestKeys('retries', RECONNECT)).to.deep.equal([]);
      // Short keys are near to anything short: no guess from one or two letters.
      expect(nearestKeys('x', CONNECT)).to.deep.equal([]);
      expect(nearestKeys('ab', CONNECT)).to.deep.equal([]);
      expect(nearestKeys('cb', CONNECT)).to.deep.equal(['ca']);
    });
  });

  describe('checkOptionKeys()', () => {
    it('throws a TypeError ERR_INVALID_OPTION naming the function, the key and the nearest known key', () => {
      const error = thrown(() => checkOptionKeys('connect', { heartbeatIntervall: 1000 }, CONNECT));
      expect(error).to.be.instanceOf(TypeError);
      expect(error).to.have.property('code', 'ERR_INVALID_OPTION');
      expect(error).to.have.property(
        'message',
        "connect(): unknown option 'heartbeatIntervall' (did you mean 'heartbeatInterval'?)",
      );
      expect(thrown(() => checkOptionKeys('reconnecting', { delay: 1 }, RECONNECT))).to.have.property(
        'message',
        "reconnecting(): unknown option 'delay' (did you mean 'initialDelay' or 'maxDelay'?)",
      );
    });

    it('names a far-off key without a guess', () => {
      const error = thrown(() => checkOptionKeys('listen', { port: 0, banana: true }, LISTEN));
      expect(error).to.be.instanceOf(TypeError);
      expect(error).to.have.property('code', 'ERR_INVALID_OPTION');
      expect(error).to.have.property('message', "listen(): unknown option 'banana'");
    });

    it('passes known keys, whatever their value, undefined included, and undefined options', () => {
      expect(() => checkOptionKeys('connect', { protocols: undefined, ca: undefined }, CONNECT)).not.to.throw();
      expect(() => checkOptionKeys('connect', {}, CONNECT)).not.to.throw();
      expect(() => checkOptionKeys('connect', undefined, CONNECT)).not.to.throw();
    });

    it('looks at own enumerable string keys only: not inherited ones, symbols or hidden ones', () => {
      const inherited = Object.create({ bogus: 1 }) as object;
      expect(() => checkOptionKeys('connect', inherited, CONNECT)).not.to.throw();
      expect(() => checkOptionKeys('connect', { [Symbol('tag')]: 1 }, CONNECT)).not.to.throw();
      const hidden = Object.defineProperty({}, 'bogus', { value: 1, enumerable: false });
      expect(() => checkOptionKeys('connect', hidden, CONNECT)).not.to.throw();
      // An instance of a class: its methods live on the prototype.
      class Settings {
        protocols = ['chat'];
        describe(): string {
          return 'chat';
        }
      }
      expect(() => checkOptionKeys('connect', new Settings(), CONNECT)).not.to.throw();
    });

    it('throws ERR_INVALID_OPTION for options that are not an object', () => {
      for (const options of [null, 5, 'port', true]) {
        const error = thrown(() => checkOptionKeys('listen', options, LISTEN));
        expect(error, String(options)).to.be.instanceOf(TypeError);
        expect(error, String(options)).to.have.property('code', 'ERR_INVALID_OPTION');
        expect(error).to.have.property('message', 'listen(): options must be an object');
      }
    });
  });

  describe('unknownOption()', () => {
    it('gives the message for the first unknown key, or undefined', () => {
      expect(unknownOption('encodeVariant', { maxsize: 4 }, ['maxSize', 'maxDepth', 'engine'])).to.equal(
        "encodeVariant(): unknown option 'maxsize' (did you mean 'maxSize'?)",
      );
      expect(unknownOption('encodeVariant', { maxSize: 4 }, ['maxSize'])).to.equal(undefined);
    });
  });

  describe('optionKeys()', () => {
    it('lists the inherited keys, then the own ones', () => {
      interface Base {
        a?: number;
      }
      interface Options extends Base {
        b?: number;
        c?: string;
      }
      const base = optionKeys<Base>({ a: true });
      expect(optionKeys<Options, keyof Base>({ b: true, c: true }, base)).to.deep.equal(['a', 'b', 'c']);
      // The compiler holds the list to the type, both ways (checked by `npm run typecheck`).
      // @ts-expect-error 'c' is missing
      optionKeys<Options, keyof Base>({ b: true }, base);
      // @ts-expect-error 'd' is no key of Options
      optionKeys<Options, keyof Base>({ b: true, c: true, d: true }, base);
    });
  });
});
