/**
 * @internal Error classes that `instanceof` recognises across copies of this package. An app that
 * both imports and requires it loads two copies (dist/esm and dist/cjs), so two classes of each
 * name, and ordinary `instanceof` fails across them. Each branded class marks its instances with
 * a registered symbol, `Symbol.for('rx-websocket-peer.<ClassName>')`, the same in every copy (and
 * realm), and answers `instanceof` by that mark:
 *
 * ```ts
 * const brand = errorBrand('WebSocketPeerError');
 * export class WebSocketPeerError extends Error {
 *   constructor() { super(); brand.mark(this); }
 *   static override [Symbol.hasInstance](value: unknown): boolean {
 *     return brand.hasInstance(this, WebSocketPeerError, value);
 *   }
 * }
 * ```
 *
 * Nothing else changes: the instances are ordinary `Error`s (`instanceof Error` holds), and a
 * user's subclass keeps ordinary `instanceof`, so only its own instances are instances of it.
 */
export interface ErrorBrand {
  /** Marks `error` with the brand (a non-enumerable property): call it in the constructor. */
  mark(error: Error): void;
  /**
   * What `static [Symbol.hasInstance]` answers for `value`: when asked of the branded class
   * itself (`Class === Branded`), whether `value` carries the brand; when asked of a subclass,
   * which inherits the method, the ordinary `instanceof`.
   */
  hasInstance(Class: unknown, Branded: unknown, value: unknown): boolean;
}

const ordinaryHasInstance = Function.prototype[Symbol.hasInstance];

/** @internal The brand of the error class `className`. */
export function errorBrand(className: string): ErrorBrand {
  const brand = Symbol.for(`rx-websocket-peer.${className}`);
  return {
    mark(error) {
      Object.defineProperty(error, brand, { value: true });
    },
    hasInstance(Class, Branded, value) {
      if (Class !== Branded) return ordinaryHasInstance.call(Class, value);
      return (typeof value === 'object' || typeof value === 'function') && value !== null && brand in value;
    },
  };
}
