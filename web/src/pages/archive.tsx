import { Empty, Page } from '../ui.tsx';

export default function Archive() {
  return <Page title="Archive"><Empty>Not built yet.</Empty></Page>;
}
