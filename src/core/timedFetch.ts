// fetch for Hub calls: each request ends after `ms`, or when the caller's signal or the
// request's own signal aborts, whichever comes first. No `vscode`.

export function timedFetch(ms: number, signal?: AbortSignal): typeof fetch {
  return (input, init) => {
    const signals = [AbortSignal.timeout(ms), ...(signal ? [signal] : []), ...(init?.signal ? [init.signal] : [])];
    return fetch(input, { ...init, signal: AbortSignal.any(signals) });
  };
}
