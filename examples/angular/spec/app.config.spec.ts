// Where the app connects: chatUrlFrom() of the page's location.
import { expect } from 'chai';
import { chatUrlFrom } from '../src/app/app.config';

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
