// Where the app connects and how: chatUrlFrom() and chatReconnectOptionsFrom() of the page's location.
import { expect } from 'chai';
import { chatReconnectOptionsFrom, chatUrlFrom } from '../src/app/app.config';
import { DEFAULT_CHAT_RECONNECT_OPTIONS } from '../src/app/chat.service';

const at = (href: string): Location => new URL(href) as unknown as Location;

describe('chatUrlFrom(location)', () => {
  it('is /chat on the host of the page, ws: or wss: as the page is http: or https:', () => {
    expect(chatUrlFrom(at('http://127.0.0.1:4300/'))).to.equal('ws://127.0.0.1:4300/chat');
    expect(chatUrlFrom(at('https://chat.example/some/page'))).to.equal('wss://chat.example/chat');
  });

  it('is the ?ws= parameter when there is one', () => {
    expect(chatUrlFrom(at('http://localhost:4200/?ws=ws%3A%2F%2F127.0.0.1%3A4300%2Fchat'))).to.equal(
      'ws://127.0.0.1:4300/chat',
    );
    expect(chatUrlFrom(at('http://localhost:4200/?ws=ws://127.0.0.1:4300/chat'))).to.equal('ws://127.0.0.1:4300/chat');
  });
});

describe('chatReconnectOptionsFrom(location)', () => {
  it('is the defaults without ?maxQueuedWrites=, or with one that is no integer >= 0', () => {
    for (const query of [
      '',
      '?ws=ws://a.example/chat',
      '?maxQueuedWrites=',
      '?maxQueuedWrites=-1',
      '?maxQueuedWrites=2.5',
    ]) {
      expect(chatReconnectOptionsFrom(at(`http://127.0.0.1:4300/${query}`)), query).to.equal(
        DEFAULT_CHAT_RECONNECT_OPTIONS,
      );
    }
    expect(chatReconnectOptionsFrom(at('http://127.0.0.1:4300/?maxQueuedWrites=1e3'))).to.equal(
      DEFAULT_CHAT_RECONNECT_OPTIONS,
    );
  });

  it('bounds the send queue at ?maxQueuedWrites=N, the other options as by default', () => {
    expect(chatReconnectOptionsFrom(at('http://127.0.0.1:4300/?maxQueuedWrites=3'))).to.deep.equal({
      ...DEFAULT_CHAT_RECONNECT_OPTIONS,
      maxQueuedWrites: 3,
    });
    expect(chatReconnectOptionsFrom(at('http://127.0.0.1:4300/?maxQueuedWrites=0')))
      .to.have.property('maxQueuedWrites')
      .that.equals(0);
  });
});
