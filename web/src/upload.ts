import { apiKey, askKey, ApiError, keyNeeded, refusal } from './api.ts';

/** An upload under way or done: how much of the file was sent (0–1), and the API's refusal if it refused it. */
export interface UploadState {
  phase: 'sending' | 'checking' | 'stored' | 'refused';
  name: string;
  sent: number;
  error?: ApiError;
}

/** One PUT of the file with XMLHttpRequest, which reports upload progress (fetch does not). */
function put(path: string, file: File, onSent: (sent: number) => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('PUT', path);
    request.setRequestHeader('accept', 'application/json');
    request.setRequestHeader('content-type', file.type || 'application/octet-stream');
    const key = apiKey.get();
    if (key !== undefined) request.setRequestHeader('x-api-key', key);
    request.upload.onprogress = (event) => { if (event.lengthComputable && event.total > 0) onSent(event.loaded / event.total); };
    request.upload.onload = () => onSent(1);
    request.onload = () => resolve({ status: request.status, body: request.responseText });
    request.onerror = () => reject(new ApiError(0, 'The upload broke off before onair answered; nothing was stored'));
    request.send(file);
  });
}

/**
 * Stores `file` at `path` (PUT /recordings|prerecordings/{event}/{start}), telling `onState` how it goes. onair decides
 * what is audio (ffprobe): its refusal, in its words, ends the upload. The key is asked for first when onair needs one
 * and this tab has none, and again on a 401, and the file is sent again.
 */
export async function upload(path: string, file: File, onState: (state: UploadState) => void): Promise<void> {
  const report = (phase: UploadState['phase'], sent: number, error?: ApiError) => onState({ phase, name: file.name, sent, error });
  const first = keyNeeded('PUT', path);
  if (first !== undefined && !(await askKey(first))) return report('refused', 0, new ApiError(401, first));
  for (let asked = false; ; asked = true) {
    report('sending', 0);
    let sent = 0;
    try {
      const answer = await put(path, file, (fraction) => {
        sent = fraction;
        report(fraction < 1 ? 'sending' : 'checking', fraction);
      });
      if (answer.status < 300) return report('stored', 1);
      const error = await refusal(new Response(answer.body, { status: answer.status }));
      if (answer.status !== 401 || asked || !(await askKey(error.message))) return report('refused', sent, error);
    } catch (error) {
      return report('refused', sent, error instanceof ApiError ? error : new ApiError(0, String(error)));
    }
  }
}
