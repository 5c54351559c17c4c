import { useState } from 'react';
import './confirm.css';

/**
 * A change that cannot be taken back lightly (drain a node, delete a webhook): the button asks first, in place, with
 * the question and a button that names the change again. Escape or Cancel leaves it.
 */
export function ConfirmButton({ label, question, confirm, onConfirm, busy = false, danger = false }: {
  label: string;
  question: string;
  /** The confirming button's words, such as "Drain studio-a". */
  confirm: string;
  onConfirm(): void;
  busy?: boolean;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return <button type="button" className={danger ? 'danger small' : 'small'} disabled={busy} onClick={() => setAsking(true)}>{label}</button>;
  }
  return (
    <span className="confirm" role="group" aria-label={question} onKeyDown={(event) => { if (event.key === 'Escape') setAsking(false); }}>
      <span>{question}</span>
      <button type="button" className={danger ? 'danger small' : 'primary small'} autoFocus onClick={() => { setAsking(false); onConfirm(); }}>{confirm}</button>
      <button type="button" className="small" onClick={() => setAsking(false)}>Cancel</button>
    </span>
  );
}
