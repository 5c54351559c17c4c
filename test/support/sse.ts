/** One server-sent event as it came: its id (none for lossy events), its type and its parsed data line. */
export interface SseFrame {
  id: number | undefined;
  event: string | undefined;
  data: any;
}

/** The whole frames of an event stream's body, as they arrive; leaving the loop cancels the stream. */
export async function* sseFrames(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = /^id: (\d+)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data === undefined) continue;
      yield { id: id === undefined ? undefined : Number(id), event: /^event: (.*)$/m.exec(block)?.[1], data: JSON.parse(data) };
    }
  }
}
