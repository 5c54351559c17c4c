import { Empty, Page } from '../ui.tsx';

export default function Webhooks() {
  return <Page title="Webhooks and hooks"><Empty>Not built yet.</Empty></Page>;
}
