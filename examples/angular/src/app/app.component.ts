import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { map, scan } from 'rxjs';
import { type ChatMessage, ChatService } from './chat.service';

/** The most recent messages the page keeps. */
const SHOWN_MESSAGES = 50;

const describe = (message: ChatMessage): string =>
  typeof message === 'string' ? message : `[${message.byteLength} bytes]`;

@Component({
  selector: 'app-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>rx-websocket-peer chat</h1>
    <p class="status">
      State: <strong data-testid="state">{{ state().state }}</strong>
      @if (state().attempt !== undefined) {
        <span data-testid="attempt">(attempt {{ state().attempt }})</span>
      }
      @if (state().delay !== undefined) {
        <span>next try in {{ state().delay }} ms</span>
      }
    </p>
    <p class="status">
      Waiting to be sent: <strong data-testid="queued">{{ queued() }}</strong>
    </p>
    <form (submit)="$event.preventDefault(); send(text)">
      <input #text data-testid="text" placeholder="Say something" autocomplete="off" />
      <button type="submit" data-testid="send">Send</button>
    </form>
    @if (sendError(); as error) {
      <p class="error" role="alert" data-testid="send-error">
        Not sent: “{{ error.text }}”. <code>{{ error.code }}</code> {{ error.message }}
      </p>
    }
    <ol data-testid="messages">
      @for (message of messages(); track $index) {
        <li>{{ message }}</li>
      }
    </ol>
  `,
  styles: `
    :host {
      display: block;
      font-family: system-ui, sans-serif;
      max-width: 40rem;
      margin: 2rem auto;
    }
    .status span {
      margin-left: 0.5em;
    }
    ol {
      font-family: ui-monospace, monospace;
    }
    .error {
      color: #a00;
    }
  `,
})
export class AppComponent {
  private readonly chat = inject(ChatService);

  /** Subscribing to the state does not connect; the messages below do. */
  readonly state = toSignal(this.chat.state$, { requireSync: true });
  /** Sends that wait for the connection to (re)open. */
  readonly queued = toSignal(this.chat.queued$, { requireSync: true });
  /** Why the last send was refused; gone once one is taken. */
  readonly sendError = toSignal(this.chat.sendError$, { requireSync: true });
  /** The newest message last. */
  readonly messages = toSignal(
    this.chat.messages$.pipe(
      map(describe),
      scan((shown: string[], message) => [...shown, message].slice(-SHOWN_MESSAGES), []),
    ),
    { initialValue: [] },
  );

  /** Sends the text; a refused one stays in the box, to try again. */
  send(input: HTMLInputElement): void {
    if (input.value === '') return;
    if (this.chat.send(input.value)) input.value = '';
  }
}
