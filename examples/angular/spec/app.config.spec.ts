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
  it('is the defaults without ?initialDelay=, or with one that is no integer >= 0', () => {
    for (const query of ['', '?ws=ws://a.example/chat', '?initialDelay=', '?initialDelay=-1', '?initialDelay=2.5']) {
      expect(chatReconnectOptionsFrom(at(`http://127.0.0.1:4300/${query}`)), query).to.equal(
        DEFAULT_CHAT_RECONNECT_OPTIONS,
      );
    }
    expect(chatReconnectOptionsFrom(at('http://127.0.0.1:4300/?initialDelay=1e3'))).to.equal(
      DEFAULT_CHAT_RECONNECT_OPTIONS,
    );
  });

  it('waits ?initialDelay=N ms before the first retry, and at least that long before each next one', () => {
    expect(chatReconnectOptionsFrom(at('http://127.0.0.1:4300/?initialDelay=3'))).to.deep.equal({
      ...DEFAULT_CHAT_RECONNECT_OPTIONS,
      initialDelay: 3,
    });
    expect(chatReconnectOptionsFrom(at('http://127.0.0.1:4300/?initialDelay=0')))
      .to.have.property('initialDelay')
      .that.equals(0);
    // reconnecting() refuses a maxDelay below initialDelay.
    expect(chatReconnectOptionsFrom(at('http://127.0.0.1:4300/?initialDelay=60000'))).to.deep.equal({
      ...DEFAULT_CHAT_RECONNECT_OPTIONS,
      initialDelay: 60_000,
      maxDelay: 60_000,
    });
  });
});
