// Types of demo/cuttingProxy.mjs, for the specs and benchmarks that import it.

export interface CuttingProxyOptions {
  /** Cut each connection once this many bytes (drawn per direction) went through one way. */
  cutAfterBytes?: readonly [number, number];
  /** Cut each connection after this many ms, at the latest. */
  cutAfterMs?: readonly [number, number];
  /** [0, 1) at random; default `seededRandom(seed)`. */
  random?: () => number;
  seed?: number;
}

export interface CuttingProxy {
  readonly port: number;
  readonly url: string;
  /** Connections accepted, and connections cut by the proxy (not closed by either end). */
  readonly stats: { connections: number; cuts: number };
  cutAll(): void;
  stopCutting(): void;
  close(): Promise<void>;
}

export function seededRandom(seed: number): () => number;
export function startCuttingProxy(targetPort: number, options?: CuttingProxyOptions): Promise<CuttingProxy>;
