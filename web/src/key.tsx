import { useEffect, useRef, useState, useSyncExternalStore, type FormEvent } from 'react';
import { apiKey, askKey, keyRequired, onKeyNeeded } from './api.ts';
import { events } from './live.ts';

interface Asking {
  reason: string;
  answer(key: string | undefined): void;
}

/**
 * The API key prompt: shown when onair answers 401 (the first change, or a read that is not public), with the API's
 * own words. The key is kept for this tab only; the event stream reconnects with it.
 */
export function KeyPrompt() {
  const [asking, setAsking] = useState<Asking>();
  const dialog = useRef<HTMLDialogElement>(null);
  const waiting = useRef<Promise<string | undefined> | undefined>(undefined);

  useEffect(() => {
    onKeyNeeded((reason) => {
      // Several requests refused at once share one prompt.
      waiting.current ??= new Promise<string | undefined>((resolve) => setAsking({ reason, answer: resolve })).finally(() => {
        waiting.current = undefined;
      });
      return waiting.current;
    });
  }, []);

  useEffect(() => {
    if (asking !== undefined && !dialog.current?.open) dialog.current?.showModal();
  }, [asking]);

  const close = (key: string | undefined) => {
    if (key !== undefined) apiKey.set(key);
    dialog.current?.close();
    asking?.answer(key);
    setAsking(undefined);
    if (key !== undefined) events.restart();
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const key = new FormData(event.currentTarget).get('key');
    close(typeof key === 'string' && key !== '' ? key : undefined);
  };

  return (
    <dialog ref={dialog} className="key-prompt" aria-labelledby="key-title" onCancel={() => close(undefined)}>
      {asking && (
        <form onSubmit={submit}>
          <h2 id="key-title">API key needed</h2>
          <p role="alert">{asking.reason}</p>
          <label htmlFor="api-key">API key (ONAIR_API_KEY), kept for this browser tab only</label>
          <input id="api-key" name="key" type="password" autoComplete="off" required autoFocus defaultValue={apiKey.get()} />
          <div className="actions">
            <button type="submit" className="primary">Use this key</button>
            <button type="button" onClick={() => close(undefined)}>Cancel</button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** The header's button: give the key (when onair has one and this tab none), or forget it (the page is loaded afresh). */
export function KeyButton() {
  const held = useSyncExternalStore(apiKey.watch, () => apiKey.get() !== undefined);
  if (held) {
    return <button type="button" className="link" onClick={() => { apiKey.clear(); window.location.reload(); }}>Forget key</button>;
  }
  if (!keyRequired()) return null;
  return <button type="button" className="link" onClick={() => void askKey('Give the API key to see and change everything.')}>Enter key</button>;
}
