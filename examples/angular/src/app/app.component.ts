import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { scan } from 'rxjs';
import { type ChatMessage, ChatService } from './chat.service';

/** The most recent messages the page keeps. */
const SHOWN_MESSAGES = 50;

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
      Not yet acknowledged by the server: <strong data-testid="unacknowledged">{{ unacknowledged() }}</strong>
    </p>
    @if (notice(); as notice) {
      <p [class]="'notice ' + notice.kind" role="status" data-testid="notice" [attr.data-kind]="notice.kind">
        {{ notice.text }}
      </p>
    }
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
      @for (message of messages(); track message.position.epoch + ':' + message.position.offset) {
        <li [attr.data-offset]="message.position.offset">{{ message.text }}</li>
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
    .notice.resumed {
      color: #060;
    }
    .notice.gap,
    .notice.ended,
    .error {
      color: #a00;
    }
  `,
})
export class AppComponent {
  private readonly chat = inject(ChatService);

  /** Subscribing to the state does not connect; the messages below do. */
  readonly state = toSignal(this.chat.state$, { requireSync: true });
  /** Sends the server has not acknowledged yet: offline, or on their way. */
  readonly unacknowledged = toSignal(this.chat.unacknowledged$, { requireSync: true });
  /** What the last reconnect meant for the room: resumed with nothing missed, or not. */
  readonly notice = toSignal(this.chat.notice$, { requireSync: true });
  /** Why the last send failed; gone once one is taken. */
  readonly sendError = toSignal(this.chat.sendError$, { requireSync: true });
  /** The room's messages since the page joined it, the newest last. */
  readonly messages = toSignal(
    this.chat.messages$.pipe(scan((shown: ChatMessage[], message) => [...shown, message].slice(-SHOWN_MESSAGES), [])),
    { initialValue: [] },
  );

  /** Sends the text; a refused one stays in the box, to try again. */
  send(input: HTMLInputElement): void {
    if (input.value === '') return;
    if (this.chat.send(input.value)) input.value = '';
  }
}
