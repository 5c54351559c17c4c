import { useEffect, useRef, useState } from 'react';
import './confirm.css';

/**
 * A change that cannot be taken back lightly (drain a node, delete a webhook): the button asks first, in place, with
 * the question and a button that names the change again. Escape or Cancel leaves it, the focus back on the button.
 */
export function ConfirmButton({ label, name, question, confirm, keep = 'Cancel', onConfirm, busy = false, danger = false }: {
  label: string;
  /** The asking button's accessible name where its label alone is ambiguous, such as "Cancel task 42". */
  name?: string;
  question: string;
  /** The confirming button's words, such as "Drain studio-a". */
  confirm: string;
  /** The leaving button's words: "Keep it" where the change itself is a cancel. */
  keep?: string;
  onConfirm(): void;
  busy?: boolean;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const asker = useRef<HTMLButtonElement>(null);
  const answered = useRef(false);
  useEffect(() => {
    if (!asking && answered.current) asker.current?.focus();
    answered.current = false;
  }, [asking]);
  const leave = () => {
    answered.current = true;
    setAsking(false);
  };
  if (!asking) {
    return (
      <button ref={asker} type="button" className={danger ? 'danger small' : 'small'} disabled={busy} aria-label={name}
        onClick={() => setAsking(true)}>{label}</button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question} onKeyDown={(event) => { if (event.key === 'Escape') leave(); }}>
      <span>{question}</span>
      <button type="button" className={danger ? 'danger small' : 'primary small'} autoFocus onClick={() => { leave(); onConfirm(); }}>{confirm}</button>
      <button type="button" className="small" onClick={leave}>{keep}</button>
    </span>
  );
}
